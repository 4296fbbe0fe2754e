// The operation timeout (OPERATION_TIMEOUT_SECONDS, seed: 600 s): a hung command must not
// block a server forever. The operation fails with a message saying it timed out, nothing
// keeps running on the server, and the server's next operation runs.
//
// A file of its own: app/lib/env.server.ts validates the environment once per process and
// caches it, so the short timeout must be set before any app module reads it (10 s is the
// smallest value the validation allows).
process.env.OPERATION_TIMEOUT_SECONDS = "10";

import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import type { FakeServer } from "../fixtures/ssh-peer";
import { stubFault } from "../fixtures/stub-tools";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;

beforeAll(async () => {
  e = await startEngine();
});
afterAll(async () => {
  await e?.stop();
});
// A stop that did not work is what this file is about: show what the peer and the server saw.
afterEach(async ({ task }) => {
  if (task.result?.state !== "fail") return;
  for (const serverKey of new Set(e.peer.execs.map((x) => x.serverKey))) {
    const execs = e.peer
      .execsFor(serverKey)
      .map((x) => `  ${x.outcome} ${x.exitCode ?? ""} ${Math.round((x.endedAt ?? Date.now()) - x.startedAt)} ms`);
    console.error(`--- server ${serverKey}: execs\n${execs.join("\n")}\n${(await e.peer.server(serverKey)).describe()}`);
  }
});

let nextPort = 30_000;
async function createRule(serverId: string) {
  const port = String(nextPort++);
  return { ...(await e.api.firewall.create({ serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", source: "" })), port };
}
const operationOf = (resourceId: string) => eventually(() => e.db.operation.findFirst({ where: { resourceId } }));
const untilRule = (id: string, status: string, timeoutMs = 45_000) =>
  eventually(async () => (await e.db.firewallRule.findUnique({ where: { id } }))?.status === status || null, timeoutMs);
/** When `tool` was first called with arguments containing `match` on the server (µs since the epoch). */
const firstCall = (server: FakeServer, tool: string, match: string) =>
  server.timedCalls(tool).find((c) => ` ${c.argv.slice(1).join(" ")} `.includes(match))?.at;

it("fails an operation whose command hangs past the timeout, with a timeout message; the command is stopped on the server, then the next operation runs", async () => {
  const { id: serverId } = await e.addServer();
  const server = await e.peer.server(serverId);
  const hangPort = String(nextPort);
  const hang = server.hang("ufw", ` port ${hangPort} `);
  const hung = await createRule(serverId);
  const next = await createRule(serverId);

  await untilRule(hung.id, "failed");
  const rule = await e.db.firewallRule.findUniqueOrThrow({ where: { id: hung.id } });
  expect(rule.errorLog).toMatch(/timed out|timeout/i);
  const op = await operationOf(hung.id);
  expect(op.state).toBe("failed");
  expect(op.errorLog).toMatch(/timed out|timeout/i);

  await untilRule(next.id, "active");
  // Nothing is left hanging on the server: the timed-out command was stopped, not abandoned,
  // and before the server's next operation ran its command.
  const stoppedAt = hang.stopped();
  expect(stoppedAt, "the timed-out command was never stopped on the server").not.toBeNull();
  expect(firstCall(server, "ufw", ` port ${next.port} `)! > stoppedAt!).toBe(true);
}, 90_000);

it("stops a timed-out operation's command before the server's next operation runs (multi-milestone package install)", async () => {
  // No firewall yet (this test installs it); the scheduler is there for the next operation.
  const { id: serverId } = await e.addServer(undefined, { packages: ["scheduler"] });
  const server = await e.peer.server(serverId);
  // Milestone 1 (apt) takes a while, milestone 2 hangs at `ufw --force enable`: the operation
  // times out while milestone 2 has run for only part of its own per-command budget.
  server.fault("apt-get", "slow", stubFault.slow({ match: " install ", seconds: 4 }));
  const hang = server.hang("ufw", " --force enable ");
  const pkg = await e.api.packages.create({ serverId, type: "firewall" });
  const next = await e.api.scheduler.create({ serverId, name: "next", command: "true", user: "root", frequency: "hourly" });

  await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id: pkg.id } }))?.status === "failed" || null, 45_000);
  await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: next.id } }))?.status === "active" || null, 45_000);

  // One command at a time on a server: the next operation's crontab edit came only after the
  // timed-out `ufw --force enable` had been stopped there.
  const stoppedAt = hang.stopped();
  expect(stoppedAt, "the timed-out command was never stopped on the server").not.toBeNull();
  expect(firstCall(server, "crontab", "")! > stoppedAt!).toBe(true);
  expect(server.read("/var/spool/cron/crontabs/root")).toContain(`# brokeforge:task:${next.id}`);
}, 90_000);
