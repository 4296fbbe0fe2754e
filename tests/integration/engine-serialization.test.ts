// The engine's core promise under load: many operations clicked at once on many servers run
// ONE AT A TIME per server (never two commands at once on a machine), yet servers proceed in
// parallel, and every operation settles exactly once with its resource active. The SSH test
// peer's fake servers really run every command (tests/fixtures/ssh-peer/): overlap is read from
// the peer's exec records, what each server ended with from the server.
import { afterAll, beforeAll, expect, it } from "vitest";
import { maxOverlap } from "../fixtures/ssh-peer";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { installTransitionLog } from "../setup/transitions";

const SERVERS = 20;
const RULES_PER_SERVER = 10; // 200 operations in all

let e: Engine;
let transitions: Awaited<ReturnType<typeof installTransitionLog>>;

beforeAll(async () => {
  e = await startEngine();
  transitions = await installTransitionLog(e.env.database.url);
});
afterAll(async () => {
  await e?.stop();
});

it(`runs ${SERVERS * RULES_PER_SERVER} operations enqueued at once on ${SERVERS} servers one at a time per server, each settling exactly once`, async () => {
  const servers = [];
  for (let i = 0; i < SERVERS; i++) servers.push(await e.addServer(`load-${i}`));
  // Every command really runs on its server (a few processes each), so overlaps would show.

  // All 200 clicks at once, through the API like the UI would.
  const rules = await Promise.all(
    servers.flatMap((s) =>
      Array.from({ length: RULES_PER_SERVER }, (_, j) =>
        e.api.firewall.create({ serverId: s.id, name: `rule ${j}`, port: String(8000 + j), protocol: "tcp", action: "allow", source: "" }),
      ),
    ),
  );
  expect(rules.every((r) => r.status === "pending")).toBe(true);
  const ruleIds = rules.map((r) => r.id);

  // Bounded: a couple of minutes on 2 cores is the budget for the whole file.
  await eventually(
    async () =>
      (await e.db.operation.count({ where: { resourceId: { in: ruleIds }, state: { in: ["queued", "running"] } } })) === 0 || null,
    150_000,
  );

  // Every operation succeeded, every rule is active.
  const ops = await e.db.operation.findMany({ where: { resourceId: { in: ruleIds } }, include: { milestones: true } });
  expect(ops).toHaveLength(rules.length);
  expect(ops.filter((o) => o.state !== "succeeded")).toEqual([]);
  const statuses = await e.db.firewallRule.findMany({ where: { id: { in: ruleIds } }, select: { status: true } });
  expect(statuses.filter((r) => r.status !== "active")).toEqual([]);

  // Exactly once: each operation went queued → running → succeeded, never back, never twice;
  // each rule went pending → installing → active; each command reached its server once.
  const all = await transitions.all();
  for (const op of ops) {
    const path = all.filter((t) => t.table === "Operation" && t.id === op.id).map((t) => t.to);
    expect(path, `operation ${op.id}`).toEqual(["queued", "running", "succeeded"]);
    expect(op.milestones.map((m) => [m.state, m.attempts])).toEqual([["succeeded", 1]]);
  }
  for (const id of ruleIds) {
    expect(
      all.filter((t) => t.id === id).map((t) => t.to),
      `rule ${id}`,
    ).toEqual(["pending", "installing", "active"]);
  }
  // Each rule's command reached its server once, and each server ended with exactly its rules.
  for (const [i, srv] of servers.entries()) {
    const server = await e.peer.server(srv.id);
    const mine = rules.slice(i * RULES_PER_SERVER, (i + 1) * RULES_PER_SERVER);
    const comments = server.calls("ufw").map((c) => c.at(-1));
    expect(comments.sort(), `server ${srv.id}`).toEqual(mine.map((r) => `brokeforge:${r.id}`).sort());
    expect((server.stubState("ufw-rules") ?? "").split("\n").filter(Boolean).sort(), `server ${srv.id}`).toEqual(
      mine.map((r) => `allow proto tcp from any to any port ${r.port} comment brokeforge:${r.id}`).sort(),
    );
  }
  // The live-update stream saw each rule's three changes (created, installing, active), in order.
  const events = await e.db.changeEvent.findMany({ where: { entity: "firewall_rule", entityId: { in: ruleIds } }, orderBy: { id: "asc" } });
  for (const id of ruleIds)
    expect(events.filter((ev) => ev.entityId === id).map((ev) => ev.action)).toEqual(["insert", "update", "update"]);

  // Serialized per server: never two commands at once on one machine...
  for (const s of servers) {
    const execs = e.peer.execsFor(s.id);
    expect(execs, `server ${s.id}`).toHaveLength(RULES_PER_SERVER);
    expect(execs.every((x) => x.outcome === "exit" && x.exitCode === 0)).toBe(true);
    expect(maxOverlap(execs), `server ${s.id}`).toBe(1);
    expect(e.peer.maxConcurrency(s.id), `server ${s.id}`).toBe(1);
  }
  // ...but servers do not wait for each other.
  expect(maxOverlap(e.peer.execs)).toBeGreaterThan(1);
}, 240_000);

it("carries a long queue across continue-as-new, minus the operations cancelled while queued: the rest run once each, in arrival order", async () => {
  const TOTAL = 30;
  const server = await e.addServer("long-queue");
  const { temporalClient, taskQueue } = await import("../../temporal/client");
  const client = await temporalClient();
  const queueHandle = client.workflow.getHandle(`server-${server.id}`);
  // Start the server's queue with a short run length (the default is 200) before anything is
  // enqueued (enqueue signals the running queue), so it continues as new many times here.
  await client.workflow.start("serverQueueWorkflow", {
    workflowId: `server-${server.id}`,
    taskQueue: taskQueue(),
    args: [{ serverId: server.id, operationsPerRun: 4 }],
  });
  // The first operation holds the server (its ufw call waits there) until everything else has
  // queued up behind it.
  const fake = await e.peer.server(server.id);
  const hold = fake.hold("ufw", " port 9000 ");
  const rules = [];
  for (let i = 0; i < TOTAL; i++) {
    rules.push(
      await e.api.firewall.create({
        serverId: server.id,
        name: `rule ${i}`,
        port: String(9000 + i),
        protocol: "tcp",
        action: "allow",
        source: "",
      }),
    );
  }
  const opOf = (resourceId: string) => e.db.operation.findFirstOrThrow({ where: { resourceId } });
  const firstOp = await opOf(rules[0]!.id);
  await eventually(async () => {
    const q = await queueHandle.query<{ running: string | null; queued: string[] }>("queue");
    return (q.running === firstOp.id && q.queued.length === TOTAL - 1) || null;
  });

  // Every third one is cancelled while queued; then the server is released.
  const cancelled = rules.filter((_, i) => i % 3 === 2);
  const kept = rules.filter((_, i) => i % 3 !== 2);
  await Promise.all(cancelled.map(async (r) => e.api.operations.cancel({ id: (await opOf(r.id)).id })));
  hold.open();
  const ids = rules.map((r) => r.id);
  await eventually(
    async () => (await e.db.operation.count({ where: { resourceId: { in: ids }, state: { in: ["queued", "running"] } } })) === 0 || null,
    90_000,
  );

  // The kept ones ran exactly once each, first come first served; the cancelled ones never ran.
  const ran = fake.calls("ufw").map((c) => c[c.indexOf("port") + 1]);
  expect(ran).toEqual(kept.map((r) => r.port));
  expect(maxOverlap(e.peer.execsFor(server.id))).toBe(1);
  const all = await transitions.all();
  const pathOf = (id: string) => all.filter((t) => t.id === id).map((t) => t.to);
  for (const r of kept) {
    expect(pathOf(r.id), `rule on port ${r.port}`).toEqual(["pending", "installing", "active"]);
    expect(pathOf((await opOf(r.id)).id)).toEqual(["queued", "running", "succeeded"]);
  }
  for (const r of cancelled) {
    expect(pathOf(r.id), `rule on port ${r.port}`).toEqual(["pending", null]); // deleted: it was a create
    expect((await e.db.operation.findFirstOrThrow({ where: { resourceId: r.id } })).state).toBe("cancelled");
  }
  // And the queue really did continue as new along the way (20 operations, 4 per run).
  await eventually(async () => {
    let runs = 0;
    for await (const _ of client.workflow.list({ query: `WorkflowId = "server-${server.id}"` })) runs++;
    return runs >= 5 || null;
  });
});
