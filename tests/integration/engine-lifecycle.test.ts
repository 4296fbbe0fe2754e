// The seed's nine lifecycle tests (000_* "Testing Requirements") for each resource kind, on
// the real engine: Postgres, the Temporal dev server, a worker, and the SSH test peer.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually, gate, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let listener: pg.Client;
const notifications: Array<{ id: number; entity: string; entityId: string; action: string; serverId: string; userId: string }> = [];

beforeAll(async () => {
  e = await startEngine();
  listener = new pg.Client({ connectionString: e.env.database.url });
  await listener.connect();
  listener.on("notification", (n) => notifications.push(JSON.parse(n.payload!)));
  await listener.query("LISTEN brokeforge_changes");
});
afterAll(async () => {
  await listener?.end();
  await e?.stop();
});
beforeEach(() => e.peer.script(() => undefined));

type Kind = {
  name: string;
  entity: string;
  /** A command of its install plan, to hold or fail. */
  installStep: RegExp;
  removeStep: RegExp;
  create(serverId: string): Promise<{ id: string; status: string }>;
  get(id: string): Promise<{ status: string; errorLog: string | null } | null>;
  remove(id: string): Promise<unknown>;
};

let nextRulePort = 20_000;
const kinds: Kind[] = [
  {
    name: "firewall rule",
    entity: "firewall_rule",
    installStep: /^ufw .*allow/,
    removeStep: /ufw --force delete/,
    // A port of its own each time: one rule per port, protocol and source on a server (ufw keeps one).
    create: (serverId) =>
      e.api.firewall.create({ serverId, name: "web", port: String(nextRulePort++), protocol: "tcp", action: "allow", source: "" }),
    get: (id) => e.db.firewallRule.findUnique({ where: { id } }),
    remove: (id) => e.api.firewall.remove({ id }),
  },
  {
    name: "scheduled task",
    entity: "scheduled_task",
    installStep: /crontab/,
    removeStep: /crontab/,
    create: (serverId) =>
      e.api.scheduler.create({ serverId, name: "backup", command: "echo 'it''s $(date)'", user: "root", frequency: "daily" }),
    get: (id) => e.db.scheduledTask.findUnique({ where: { id } }),
    remove: (id) => e.api.scheduler.remove({ id }),
  },
  {
    name: "supervisor program",
    entity: "supervisor_program",
    installStep: /supervisorctl/,
    removeStep: /supervisorctl/,
    create: (serverId) =>
      e.api.supervisor.create({
        serverId,
        name: "queue",
        command: "php artisan queue:work",
        directory: "/home/brokeforge",
        user: "root",
        numprocs: 2,
        autostart: true,
        autorestart: true,
      }),
    get: (id) => e.db.supervisorProgram.findUnique({ where: { id } }),
    remove: (id) => e.api.supervisor.remove({ id }),
  },
];

const statusOf = async (k: Kind, id: string) => (await k.get(id))?.status ?? "deleted";
const until = (k: Kind, id: string, status: string) => eventually(async () => (await statusOf(k, id)) === status || null);

describe.each(kinds)("$name lifecycle", (k) => {
  let serverId: string;
  beforeAll(async () => {
    serverId = (await e.addServer(k.entity)).id;
  });

  it("1. is pending at once when created, 2. enqueued on the server's queue, 3. installing while its commands run, 4. active on success", async () => {
    const hold = gate();
    e.peer.script(async (cmd) => {
      if (k.installStep.test(cmd)) await hold.opened;
      return undefined;
    });
    const created = await k.create(serverId);
    expect(created.status).toBe("pending");
    const op = await e.db.operation.findFirstOrThrow({ where: { resourceId: created.id } });
    expect(op).toMatchObject({ kind: `${k.entity}.install`, resourceType: k.entity, workflowId: `server-${serverId}/op-${op.id}` });

    await until(k, created.id, "installing");
    const { temporalClient } = await import("../../temporal/client");
    const client = await temporalClient();
    const queue = await client.workflow.getHandle(`server-${serverId}`).query<{ running: string | null }>("queue");
    expect(queue.running).toBe(op.id);

    hold.open();
    await until(k, created.id, "active");
    const done = await e.db.operation.findUniqueOrThrow({ where: { id: op.id }, include: { milestones: true } });
    expect(done.state).toBe("succeeded");
    expect(done.milestones.length).toBe(done.milestoneTotal);
    expect(done.milestones.every((m) => m.state === "succeeded" && m.total === done.milestoneTotal)).toBe(true);
    expect(done.runId).toBeTruthy();
  });

  it("5. fails with the error log after three real tries, never stuck in installing", async () => {
    let tries = 0;
    e.peer.script((cmd) => (k.installStep.test(cmd) ? (tries++, { exitCode: 3, stderr: "E: scripted boom\n" }) : undefined));
    const created = await k.create(serverId);
    await until(k, created.id, "failed");
    const row = await k.get(created.id);
    expect(row!.errorLog).toContain("E: scripted boom");
    expect(row!.errorLog).toMatch(/failed 3 times/);
    expect(tries).toBe(3);
    const op = await e.db.operation.findFirstOrThrow({ where: { resourceId: created.id } });
    expect(op.state).toBe("failed");
  });

  it("6. emits change events (table rows and NOTIFY, ids only) for every status change", async () => {
    const from = notifications.length;
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    await eventually(async () => notifications.slice(from).some((n) => n.entity === "operation" && n.action === "update") || null);
    const rows = await e.db.changeEvent.findMany({ where: { entityId: created.id }, orderBy: { id: "asc" } });
    expect(rows.map((r) => r.action)).toEqual(["insert", "update", "update"]); // pending → installing → active
    expect(rows.every((r) => r.userId === e.userId && r.serverId === serverId && r.entity === k.entity)).toBe(true);
    const ids = rows.map((r) => Number(r.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const mine = notifications.filter((n) => n.entityId === created.id);
    expect(mine.map((n) => n.id)).toEqual(ids);
    expect(Object.keys(mine[0]!).sort()).toEqual(["action", "entity", "entityId", "id", "serverId", "userId"]);
    const entities = new Set(notifications.slice(from).map((n) => n.entity));
    expect(entities).toContain("operation");
    expect(entities).toContain("operation_milestone");
  });

  it("7. is removing while removal runs, 8. deleted on success", async () => {
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    const hold = gate();
    e.peer.script(async (cmd) => {
      if (k.removeStep.test(cmd)) await hold.opened;
      return undefined;
    });
    await k.remove(created.id);
    expect(await statusOf(k, created.id)).toBe("removing");
    await eventually(
      async () => (await e.db.operation.findFirst({ where: { resourceId: created.id, action: "remove", state: "running" } })) ?? null,
    );
    expect(await statusOf(k, created.id)).toBe("removing");
    hold.open();
    await until(k, created.id, "deleted");
    const events = await e.db.changeEvent.findMany({ where: { entityId: created.id }, orderBy: { id: "asc" } });
    expect(events.at(-1)!.action).toBe("delete");
  });

  it("9. restores its previous status when removal fails", async () => {
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    e.peer.script((cmd) => (k.removeStep.test(cmd) ? { exitCode: 1, stderr: "E: cannot remove\n" } : undefined));
    await k.remove(created.id);
    const op = await eventually(() => e.db.operation.findFirst({ where: { resourceId: created.id, action: "remove", state: "failed" } }));
    expect(op.errorLog).toContain("E: cannot remove");
    expect(await statusOf(k, created.id)).toBe("active");
  });
});
