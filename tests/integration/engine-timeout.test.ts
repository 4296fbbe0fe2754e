// The operation timeout (OPERATION_TIMEOUT_SECONDS, seed: 600 s): a hung command must not
// block a server forever. The operation fails with a message saying it timed out, nothing
// keeps running on the server, and the server's next operation runs.
//
// A file of its own: app/lib/env.server.ts validates the environment once per process and
// caches it, so the short timeout must be set before any app module reads it (10 s is the
// smallest value the validation allows).
process.env.OPERATION_TIMEOUT_SECONDS = "10";

import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { maxOverlap } from "../fixtures/ssh-peer";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;

beforeAll(async () => {
  e = await startEngine();
});
afterAll(async () => {
  await e?.stop();
});
beforeEach(() => e.peer.script(() => undefined));

let nextPort = 30_000;
async function createRule(serverId: string) {
  const port = String(nextPort++);
  return { ...(await e.api.firewall.create({ serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", source: "" })), port };
}
const isRuleCommand = (port: string) => (cmd: string) => cmd.startsWith("ufw ") && cmd.includes(` port ${port} `);
const operationOf = (resourceId: string) => eventually(() => e.db.operation.findFirst({ where: { resourceId } }));
const untilRule = (id: string, status: string, timeoutMs = 45_000) =>
  eventually(async () => (await e.db.firewallRule.findUnique({ where: { id } }))?.status === status || null, timeoutMs);

it("fails an operation whose command hangs past the timeout, with a timeout message; the server's next operation then runs", async () => {
  const { id: serverId } = await e.addServer();
  const hangPort = String(nextPort);
  e.peer.script((cmd) => (isRuleCommand(hangPort)(cmd) ? { hang: true } : undefined));
  const hung = await createRule(serverId);
  const next = await createRule(serverId);

  await untilRule(hung.id, "failed");
  const rule = await e.db.firewallRule.findUniqueOrThrow({ where: { id: hung.id } });
  expect(rule.errorLog).toMatch(/timed out|timeout/i);
  const op = await operationOf(hung.id);
  expect(op.state).toBe("failed");
  expect(op.errorLog).toMatch(/timed out|timeout/i);

  await untilRule(next.id, "active");
  // Nothing is left hanging on the server: the timed-out command was stopped, not abandoned.
  const hungExec = e.peer.execsFor(serverId).find((x) => x.command.includes(` port ${hangPort} `))!;
  await eventually(async () => hungExec.outcome !== "running" || null, 30_000);
  expect(hungExec.outcome).toMatch(/^(signal|closed|dropped)$/);
}, 90_000);

it("stops a timed-out operation's command before the server's next operation runs (multi-milestone package install)", async () => {
  // No firewall yet (this test installs it); the scheduler is there for the next operation.
  const { id: serverId } = await e.addServer(undefined, { packages: ["scheduler"] });
  // Milestone 1 (apt) takes a while, milestone 2 hangs at `ufw --force enable`: the operation
  // times out while milestone 2 has run for only part of its own per-command budget.
  e.peer.script((cmd) => {
    if (cmd.includes("apt-get") && cmd.includes(" install ")) return { delayMs: 4_000 };
    if (cmd === "ufw --force enable") return { hang: true };
    return undefined;
  });
  const pkg = await e.api.packages.create({ serverId, type: "firewall" });
  const next = await e.api.scheduler.create({ serverId, name: "next", command: "true", user: "root", frequency: "hourly" });

  await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id: pkg.id } }))?.status === "failed" || null, 45_000);
  await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: next.id } }))?.status === "active" || null, 45_000);

  const execs = e.peer.execsFor(serverId);
  const hungExec = execs.find((x) => x.steps?.some((s) => s.command === "ufw --force enable"))!;
  const nextExec = execs.find((x) => x.command.includes(`brokeforge:task:${next.id}`))!;
  // One command at a time on a server: the next operation must not start while the timed-out
  // one's command still runs there.
  expect(hungExec.outcome, "the timed-out command was still running when the next operation ran").not.toBe("running");
  expect(nextExec.startedAt).toBeGreaterThanOrEqual(hungExec.endedAt!);
  expect(maxOverlap(execs)).toBe(1);
}, 90_000);
