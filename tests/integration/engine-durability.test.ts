// Durability: an operation survives its worker being killed (kill -9, like a crashed machine)
// and the Temporal server restarting, and still ends with the resource in a final status. The
// SSH test peer's fake servers really run the commands (tests/fixtures/ssh-peer/), so the
// milestone's detached run really outlives the dead worker's connection.
//
// This file restarts Temporal, so it gets a DEDICATED dev server (its own SQLite file in a
// temp dir, free ports) instead of the one the other test files share. The worker runs as a
// separate process (the real temporal/worker.ts entry point) so it can be SIGKILLed.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { freePort } from "../../scripts/infra/ports";
import { startTemporalDevServer, type RunningTemporal, type StartTemporalOptions } from "../../scripts/infra/temporal";
import { SEARCH_ATTRIBUTES } from "../../temporal/search-attributes";
import type { FakeServer } from "../fixtures/ssh-peer";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { activityRuns } from "../setup/history";
import { killAllWorkerProcesses, startWorkerProcess, type WorkerProcess } from "../setup/worker-process";

let dir: string;
let temporalOptions: StartTemporalOptions;
let temporal: RunningTemporal | undefined;
let e: Engine | undefined;
let worker: WorkerProcess;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "brokeforge-durability-"));
  temporalOptions = {
    port: await freePort(),
    uiPort: await freePort(),
    dbFile: path.join(dir, "temporal.db"), // persistent: a restart keeps every workflow
    searchAttributes: SEARCH_ATTRIBUTES,
    logFile: path.join(dir, "temporal.log"),
  };
  temporal = await startTemporalDevServer(temporalOptions);
  // setupTestEnv (inside startEngine) takes the Temporal address from here; it must be set
  // before any app module reads the environment (it is validated once and cached).
  process.env.TEST_TEMPORAL_ADDRESS = temporal.address;
  e = await startEngine({ worker: false });
  expect(process.env.TEMPORAL_ADDRESS).toBe(temporal.address);
  worker = await startWorkerProcess();
}, 180_000);

afterAll(async () => {
  // Each step on its own: a failure in one must not leave processes behind.
  await killAllWorkerProcesses().catch(() => undefined);
  await e?.stop().catch(() => undefined);
  await temporal?.stop().catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
});

afterEach(({ task }) => {
  // The worker runs in another process: show what it said when a test fails.
  if (task.result?.state === "fail") console.error(`--- worker process output (tail) ---\n${worker?.output().slice(-5000)}`);
});

let nextPort = 40_000;
async function createRule(serverId: string) {
  const port = String(nextPort++);
  return {
    ...(await e!.api.firewall.create({ serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", source: "" })),
    port,
  };
}
/** The server's ufw calls for the rule on `port`. */
const ufwCallsFor = (server: FakeServer, port: string) => server.calls("ufw").filter((c) => ` ${c.join(" ")} `.includes(` port ${port} `));
const statusOf = async (id: string) => (await e!.db.firewallRule.findUnique({ where: { id } }))?.status;
const untilRule = (id: string, status: string, timeoutMs = 90_000) =>
  eventually(async () => (await statusOf(id)) === status || null, timeoutMs);
/** Holds the rule's ufw call on the server until released. */
const holdRule = (server: FakeServer, port: string) => server.hold("ufw", ` port ${port} `);

it("finishes an operation whose worker was killed (SIGKILL) in the middle of a milestone; the command ran once", async () => {
  const { id: serverId } = await e!.addServer();
  const server = await e!.peer.server(serverId);
  const hold = holdRule(server, String(nextPort));
  const rule = await createRule(serverId);
  await hold.held(60_000);
  expect(e!.peer.execsFor(serverId)).toHaveLength(1);
  expect(await statusOf(rule.id)).toBe("installing");

  await worker.kill("SIGKILL");
  // Its SSH connection died with it; nothing settles the operation while no worker runs.
  await eventually(async () => e!.peer.connectionsFor(serverId).every((c) => c.closedAt !== null) || null, 10_000);
  expect(await statusOf(rule.id)).toBe("installing");
  worker = await startWorkerProcess();

  // Temporal gives the milestone to the new worker once the dead attempt's heartbeat timeout
  // (20 s) has expired; it attaches to the run, which kept going on the server.
  await eventually(async () => e!.peer.execsFor(serverId).length === 2 || null, 90_000);
  hold.open();
  await untilRule(rule.id, "active");

  const op = await e!.db.operation.findFirstOrThrow({ where: { resourceId: rule.id }, include: { milestones: true } });
  expect(op.state).toBe("succeeded");
  expect(op.milestones).toEqual([expect.objectContaining({ state: "succeeded", attempts: 2, failures: 0 })]);
  const [killed, rerun] = e!.peer.execsFor(serverId);
  expect(killed!.outcome).not.toBe("exit"); // its connection died with the worker
  expect(rerun).toMatchObject({ outcome: "exit", exitCode: 0 });
  expect(ufwCallsFor(server, rule.port)).toHaveLength(1); // not run again by the new worker
  expect(server.stubState("ufw-rules")).toContain(`port ${rule.port} comment brokeforge:${rule.id}\n`);
  expect(await activityRuns(op.workflowId!, "runMilestone")).toEqual([expect.objectContaining({ attempts: 2, outcome: "completed" })]);
}, 180_000);

it("finishes an operation while the Temporal server restarts under it, and takes new work afterwards", async () => {
  const { id: serverId } = await e!.addServer();
  const server = await e!.peer.server(serverId);
  const hold = holdRule(server, String(nextPort));
  const rule = await createRule(serverId);
  await hold.held(60_000);

  await temporal!.stop();
  temporal = undefined;
  temporal = await startTemporalDevServer(temporalOptions); // same SQLite file, same ports
  hold.open();
  await untilRule(rule.id, "active");
  expect((await e!.db.operation.findFirstOrThrow({ where: { resourceId: rule.id } })).state).toBe("succeeded");

  // The server's queue still works: a new operation after the restart runs too.
  const after = await createRule(serverId);
  await untilRule(after.id, "active");
  expect(e!.peer.execsFor(serverId).map((x) => x.outcome)).toEqual(["exit", "exit"]);
  expect(ufwCallsFor(server, rule.port)).toHaveLength(1);
  expect(ufwCallsFor(server, after.port)).toHaveLength(1);
}, 180_000);
