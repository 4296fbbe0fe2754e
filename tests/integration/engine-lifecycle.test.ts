// The seed's nine lifecycle tests (000_* "Testing Requirements") for each resource kind, on
// the real engine: Postgres, the Temporal dev server, a worker, and the SSH test peer, whose
// fake servers really run every command (tests/fixtures/ssh-peer/). Each test checks what the
// server ended with (the stub ufw's rules, the crontab and task script, the supervisor
// config), read from the server itself; faults are real: a stub tool that fails or is held.
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FakeServer } from "../fixtures/ssh-peer";
import { stubFault } from "../fixtures/stub-tools";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { installTransitionLog } from "../setup/transitions";

let e: Engine;
let listener: pg.Client;
let transitions: Awaited<ReturnType<typeof installTransitionLog>>;
const notifications: Array<{ id: number; entity: string; entityId: string; action: string; serverId: string; userId: string }> = [];

beforeAll(async () => {
  e = await startEngine();
  transitions = await installTransitionLog(e.env.database.url);
  listener = new pg.Client({ connectionString: e.env.database.url });
  await listener.connect();
  listener.on("notification", (n) => notifications.push(JSON.parse(n.payload!)));
  await listener.query("LISTEN brokeforge_changes");
});
afterAll(async () => {
  await listener?.end();
  await e?.stop();
});

/** A stub tool call on the server: `tool` with arguments containing `match`. */
type Call = { tool: string; match: string };

type Kind = {
  name: string;
  entity: string;
  /** A call its install plan makes (to hold or fail), and one its removal makes. */
  installCall: Call;
  removeCall: Call;
  create(serverId: string): Promise<{ id: string; status: string }>;
  get(id: string): Promise<{ status: string; errorLog: string | null } | null>;
  remove(id: string): Promise<unknown>;
  /** What the server holds of the resource once it is active (null: nothing, after removal). */
  onServer(server: FakeServer, id: string): unknown;
  /** `onServer` of an active resource. */
  expected(id: string): unknown;
};

let nextRulePort = 20_000;
const rulePorts = new Map<string, number>();
const CRONTAB = "/var/spool/cron/crontabs/root";
const kinds: Kind[] = [
  {
    name: "firewall rule",
    entity: "firewall_rule",
    installCall: { tool: "ufw", match: " allow " },
    removeCall: { tool: "ufw", match: " delete " },
    // A port of its own each time: one rule per port, protocol and source on a server (ufw keeps one).
    create: async (serverId) => {
      const port = nextRulePort++;
      const row = await e.api.firewall.create({ serverId, name: "web", port: String(port), protocol: "tcp", action: "allow", source: "" });
      rulePorts.set(row.id, port);
      return row;
    },
    get: (id) => e.db.firewallRule.findUnique({ where: { id } }),
    remove: (id) => e.api.firewall.remove({ id }),
    onServer: (server, id) => (server.stubState("ufw-rules") ?? "").split("\n").filter((l) => l.endsWith(` comment brokeforge:${id}`)),
    expected: (id) => [`allow proto tcp from any to any port ${rulePorts.get(id)} comment brokeforge:${id}`],
  },
  {
    name: "scheduled task",
    entity: "scheduled_task",
    installCall: { tool: "crontab", match: "" },
    removeCall: { tool: "crontab", match: "" },
    create: (serverId) =>
      e.api.scheduler.create({ serverId, name: "backup", command: "echo 'it''s $(date)'", user: "root", frequency: "daily" }),
    get: (id) => e.db.scheduledTask.findUnique({ where: { id } }),
    remove: (id) => e.api.scheduler.remove({ id }),
    onServer: (server, id) => {
      const line = (server.read(CRONTAB) ?? "").split("\n").find((l) => l.endsWith(` # brokeforge:task:${id}`));
      const script = server.read(`/opt/brokeforge/scheduler/tasks/${id}.sh`);
      return line === undefined && script === null ? null : { line, script: script?.split("\n").at(-2) };
    },
    // The crontab line runs the script, and the script's last line is the user's command, byte for byte.
    expected: (id) => ({
      line: `0 0 * * * /bin/sh /opt/brokeforge/scheduler/tasks/${id}.sh >> /var/log/brokeforge/task-${id}.log 2>&1 # brokeforge:task:${id}`,
      script: "echo 'it''s $(date)'",
    }),
  },
  {
    name: "supervisor program",
    entity: "supervisor_program",
    installCall: { tool: "supervisorctl", match: " update " },
    removeCall: { tool: "supervisorctl", match: " update " },
    create: (serverId) =>
      e.api.supervisor.create({
        serverId,
        name: "queue",
        command: "php artisan queue:work",
        directory: "/srv",
        user: "root",
        numprocs: 2,
        autostart: true,
        autorestart: true,
      }),
    get: (id) => e.db.supervisorProgram.findUnique({ where: { id } }),
    remove: (id) => e.api.supervisor.remove({ id }),
    onServer: (server, id) => {
      const conf = server.read(`/etc/supervisor/conf.d/brokeforge-${id}.conf`);
      return conf === null ? null : conf.split("\n").filter((l) => /^(\[program:|command=|directory=|user=|numprocs=)/.test(l));
    },
    expected: (id) => [`[program:brokeforge-${id}]`, "command=php artisan queue:work", "directory=/srv", "user=root", "numprocs=2"],
  },
];

const statusOf = async (k: Kind, id: string) => (await k.get(id))?.status ?? "deleted";
const until = (k: Kind, id: string, status: string) => eventually(async () => (await statusOf(k, id)) === status || null);
/** Exit codes of the operation's detached runs of milestone `step`, from their state dirs on the server. */
function runExitCodes(server: FakeServer, operationId: string, step: number): string[] {
  const prefix = `brokeforge-op-${operationId}-${step}-`;
  return server
    .list("/var/lib/brokeforge/runs")
    .filter((name) => name.startsWith(prefix))
    .map((name) => (server.read(`/var/lib/brokeforge/runs/${name}/rc`) ?? "none").trim());
}

describe.each(kinds)("$name lifecycle", (k) => {
  let serverId: string;
  let server: FakeServer;
  beforeAll(async () => {
    serverId = (await e.addServer(k.entity)).id;
    server = await e.peer.server(serverId);
  });
  // Faults planted on the server are the test's own.
  beforeEach(() => server.clearFaults());

  it("1. is pending at once when created, 2. enqueued on the server's queue, 3. installing while its commands run, 4. active on success", async () => {
    // Held on the server: the install's call really reached the server and waits there.
    const hold = server.hold(k.installCall.tool, k.installCall.match);
    const created = await k.create(serverId);
    expect(created.status).toBe("pending");
    const op = await e.db.operation.findFirstOrThrow({ where: { resourceId: created.id } });
    expect(op).toMatchObject({ kind: `${k.entity}.install`, resourceType: k.entity, workflowId: `server-${serverId}/op-${op.id}` });

    await hold.held();
    expect(await statusOf(k, created.id)).toBe("installing");
    const { temporalClient } = await import("../../temporal/client");
    const client = await temporalClient();
    const queue = await client.workflow.getHandle(`server-${serverId}`).query<{ running: string | null }>("queue");
    expect(queue.running).toBe(op.id);

    hold.open();
    await until(k, created.id, "active");
    // Every status the row went through, as written (pending was its first).
    expect(await transitions.pathOf(created.id)).toEqual(["pending", "installing", "active"]);
    const done = await e.db.operation.findUniqueOrThrow({ where: { id: op.id }, include: { milestones: true } });
    expect(done.state).toBe("succeeded");
    expect(done.milestones.length).toBe(done.milestoneTotal);
    expect(done.milestones.every((m) => m.state === "succeeded" && m.total === done.milestoneTotal)).toBe(true);
    expect(done.runId).toBeTruthy();
    expect(k.onServer(server, created.id)).toEqual(k.expected(created.id));
  });

  it("5. fails with the error log after three real tries, never stuck in installing", async () => {
    const { tool, match } = k.installCall;
    server.fault(tool, "boom", stubFault.fail({ tool, name: "boom", match, exitCode: 3, stderr: "E: scripted boom\n" }));
    const created = await k.create(serverId);
    await until(k, created.id, "failed");
    const row = await k.get(created.id);
    expect(row!.errorLog).toContain("E: scripted boom");
    expect(row!.errorLog).toMatch(/failed 3 times/);
    const op = await e.db.operation.findFirstOrThrow({ where: { resourceId: created.id }, include: { milestones: true } });
    expect(op.state).toBe("failed");
    // Three runs of the failing milestone really happened on the server, each failed.
    const failing = op.milestones.find((m) => m.state === "failed")!;
    const codes = runExitCodes(server, op.id, failing.step);
    expect(codes).toHaveLength(3);
    expect(codes.filter((c) => !/^[1-9]\d*$/.test(c))).toEqual([]);
  });

  it("6. emits change events (table rows and NOTIFY, ids only) for every status change", async () => {
    const from = notifications.length;
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    await eventually(async () => notifications.slice(from).some((n) => n.entity === "operation" && n.action === "update") || null);
    const rows = await e.db.changeEvent.findMany({ where: { entityId: created.id }, orderBy: { id: "asc" } });
    expect(rows.map((r) => r.action)).toEqual(["insert", "update", "update"]); // pending → installing → active
    expect(rows.every((r) => r.userId === e.userId && r.serverId === serverId && r.entity === k.entity)).toBe(true);
    // NOTIFY delivered them in the order they were committed, with the rows' ids.
    const mine = notifications.filter((n) => n.entityId === created.id);
    expect(mine.map((n) => n.id)).toEqual(rows.map((r) => Number(r.id)));
    expect(Object.keys(mine[0]!).sort()).toEqual(["action", "entity", "entityId", "id", "serverId", "userId"]);
    const entities = new Set(notifications.slice(from).map((n) => n.entity));
    expect(entities).toContain("operation");
    expect(entities).toContain("operation_milestone");
  });

  it("7. is removing while removal runs, 8. deleted on success, and gone from the server", async () => {
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    expect(k.onServer(server, created.id)).toEqual(k.expected(created.id));
    const hold = server.hold(k.removeCall.tool, k.removeCall.match);
    await k.remove(created.id);
    expect(await statusOf(k, created.id)).toBe("removing");
    await hold.held();
    expect(await statusOf(k, created.id)).toBe("removing");
    hold.open();
    await until(k, created.id, "deleted");
    const events = await e.db.changeEvent.findMany({ where: { entityId: created.id }, orderBy: { id: "asc" } });
    expect(events.at(-1)!.action).toBe("delete");
    expect(k.onServer(server, created.id)).toEqual(k.entity === "firewall_rule" ? [] : null);
  });

  it("9. restores its previous status when removal fails", async () => {
    const created = await k.create(serverId);
    await until(k, created.id, "active");
    const { tool, match } = k.removeCall;
    server.fault(tool, "cannot", stubFault.fail({ tool, name: "cannot", match, exitCode: 1, stderr: "E: cannot remove\n" }));
    await k.remove(created.id);
    const op = await eventually(() => e.db.operation.findFirst({ where: { resourceId: created.id, action: "remove", state: "failed" } }));
    expect(op.errorLog).toContain("E: cannot remove");
    expect(await statusOf(k, created.id)).toBe("active");
  });
});
