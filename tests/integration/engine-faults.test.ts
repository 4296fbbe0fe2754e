// What the operation engine does when things go wrong: dropped SSH connections, commands that
// keep failing, a key the server no longer accepts, a user cancelling queued or running work,
// and the everyday status round trips (pause/resume, restart, retry) with the retry rate limit.
// Real engine: Postgres, the Temporal dev server, an in-process worker, and the SSH test peer,
// whose fake servers really run every command (tests/fixtures/ssh-peer/). Faults are real: a
// stub tool on the server that fails, is held, or hangs until it is stopped; the tests check
// what happened on the server (its stub tools' calls and state), not the commands' text.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeServer } from "../fixtures/ssh-peer";
import { stubFault } from "../fixtures/stub-tools";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { activityRuns } from "../setup/history";
import { installTransitionLog } from "../setup/transitions";

let e: Engine;
let transitions: Awaited<ReturnType<typeof installTransitionLog>>;

beforeAll(async () => {
  e = await startEngine();
  transitions = await installTransitionLog(e.env.database.url);
});
afterAll(async () => {
  await e?.stop();
});

// Firewall rules are the simplest resource: one milestone, one command. Each rule gets its own
// port, so a fault can be planted for its ufw call before the test even knows the rule's id.
let nextPort = 20_000;
async function createRule(serverId: string) {
  const port = String(nextPort++);
  const row = await e.api.firewall.create({ serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", source: "" });
  return { ...row, port };
}
/** What a rule's ufw call contains: the port it is for (and nothing else has it). */
const portArgs = (port: string) => ` port ${port} `;
/** The server's ufw calls for `port` (adds and deletes). */
const ufwCallsFor = (server: FakeServer, port: string) => server.calls("ufw").filter((c) => ` ${c.join(" ")} `.includes(portArgs(port)));
/** The rule as the server's ufw keeps it, or undefined. */
const ufwRuleOf = (server: FakeServer, id: string) =>
  (server.stubState("ufw-rules") ?? "").split("\n").find((l) => l.endsWith(` comment brokeforge:${id}`));
const ruleOf = (id: string) => e.db.firewallRule.findUnique({ where: { id } });
const untilRule = (id: string, status: string | null, timeoutMs?: number) =>
  eventually(async () => ((await ruleOf(id))?.status ?? null) === status || null, timeoutMs);
const operationOf = (resourceId: string, action = "install") =>
  eventually(() => e.db.operation.findFirst({ where: { resourceId, action }, orderBy: { createdAt: "desc" } }));
const untilOperation = (id: string, states: string[], timeoutMs?: number) =>
  eventually(async () => {
    const op = await e.db.operation.findUniqueOrThrow({ where: { id } });
    return states.includes(op.state) ? op : null;
  }, timeoutMs);
async function publicKeyOf(serverId: string) {
  const credential = await e.db.serverCredential.findFirstOrThrow({ where: { serverId, kind: "root" } });
  return credential.publicKey;
}
/** Waits until the operation's running activity has reported a heartbeat to Temporal. */
async function untilHeartbeat(workflowId: string) {
  const { temporalClient } = await import("../../temporal/client");
  const handle = (await temporalClient()).workflow.getHandle(workflowId);
  await eventually(async () => (await handle.describe()).raw.pendingActivities?.some((a) => a.lastHeartbeatTime) || null);
}
async function newServer() {
  const { id } = await e.addServer();
  return { serverId: id, server: await e.peer.server(id) };
}

describe("transport and command faults", () => {
  it("a connection dropped mid-milestone: the retry attaches to the run still going on the server, which runs once, and the resource ends active", async () => {
    const { serverId, server } = await newServer();
    const port = String(nextPort);
    const hold = server.hold("ufw", portArgs(port));
    const rule = await createRule(serverId);
    await hold.held();
    const dropped = e.peer.execsFor(serverId).at(-1)!;
    // The worker's SSH connection is cut while the rule's command runs on the server.
    e.peer.dropAll(serverId);
    // Temporal retries the milestone: a new exec, attaching to the run (detached, same name).
    await eventually(async () => e.peer.execsFor(serverId).some((x) => x.startedAt > dropped.startedAt && x.outcome === "running") || null);
    hold.open();

    await untilRule(rule.id, "active");
    const op = await untilOperation((await operationOf(rule.id)).id, ["succeeded"]);
    expect(dropped.outcome).toBe("dropped");
    expect(ufwCallsFor(server, port)).toHaveLength(1); // the command ran once, across both attempts
    expect(ufwRuleOf(server, rule.id)).toBe(`allow proto tcp from any to any port ${port} comment brokeforge:${rule.id}`);
    // A transport fault is retried by Temporal but is not one of the 3 allowed command failures.
    const [milestone] = await e.db.operationMilestone.findMany({ where: { operationId: op.id } });
    expect(milestone).toMatchObject({ state: "succeeded", attempts: 2, failures: 0 });
    expect(await activityRuns(op.workflowId!, "runMilestone")).toEqual([{ name: "runMilestone", attempts: 2, outcome: "completed" }]);
  });

  it("fails a command that fails every time after exactly 3 runs, with its error text (and Temporal agrees)", async () => {
    const { serverId, server } = await newServer();
    const port = String(nextPort);
    server.fault(
      "ufw",
      "broken",
      stubFault.fail({ tool: "ufw", name: "broken", match: portArgs(port), exitCode: 4, stderr: "ERROR: Could not load rules\n" }),
    );
    const rule = await createRule(serverId);

    await untilRule(rule.id, "failed");
    const op = await untilOperation((await operationOf(rule.id)).id, ["failed"]);
    expect(ufwCallsFor(server, port)).toHaveLength(3);
    expect(ufwRuleOf(server, rule.id)).toBeUndefined();
    const row = await ruleOf(rule.id);
    expect(row!.errorLog).toContain("ERROR: Could not load rules");
    expect(row!.errorLog).toContain("failed 3 times");
    expect(op.errorLog).toBe(row!.errorLog);
    // One activity in the history, three attempts, then a non-retryable failure.
    const runs = await activityRuns(op.workflowId!, "runMilestone");
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ attempts: 3, outcome: "failed", failureType: "CommandFailed", nonRetryable: true });
    expect(runs[0]!.failureMessage).toContain("ERROR: Could not load rules");
  });

  it("fails at once with 'Authentication failed' when the server no longer accepts the key: one attempt, no retries", async () => {
    const { serverId } = await newServer();
    e.peer.revoke(await publicKeyOf(serverId));
    const rule = await createRule(serverId);

    await untilRule(rule.id, "failed");
    const op = await untilOperation((await operationOf(rule.id)).id, ["failed"]);
    expect((await ruleOf(rule.id))!.errorLog).toContain("Authentication failed");
    expect(op.errorLog).toContain("Authentication failed");
    expect(e.peer.execsFor(serverId)).toHaveLength(0);
    const runs = await activityRuns(op.workflowId!, "runMilestone");
    expect(runs).toEqual([expect.objectContaining({ attempts: 1, outcome: "failed", failureType: "SshPermanent", nonRetryable: true })]);
  });
});

describe("cancellation", () => {
  it("a cancelled queued create never runs and its resource disappears", async () => {
    const { serverId, server } = await newServer();
    const first = server.hold("ufw", portArgs(String(nextPort)));
    const running = await createRule(serverId);
    await first.held();
    const queued = await createRule(serverId);
    const queuedOp = await operationOf(queued.id);
    expect(queuedOp.state).toBe("queued");

    await e.api.operations.cancel({ id: queuedOp.id });
    first.open();
    await untilRule(running.id, "active");
    await untilRule(queued.id, null); // deleted: it was only ever pending
    expect((await untilOperation(queuedOp.id, ["cancelled"])).errorLog).toMatch(/Cancelled/);
    expect(ufwCallsFor(server, queued.port)).toEqual([]);
    expect(await transitions.pathOf(queued.id)).toEqual(["pending", null]);
  });

  it("cancelling a queued operation takes effect at once, not when the running one finishes", async () => {
    const { serverId, server } = await newServer();
    const first = server.hold("ufw", portArgs(String(nextPort)));
    try {
      const running = await createRule(serverId);
      await first.held();
      const queued = await createRule(serverId);
      const queuedOp = await operationOf(queued.id);

      await e.api.operations.cancel({ id: queuedOp.id });
      // The running operation may take up to the operation timeout (10 min by default); the
      // user who cancelled must not see the queued one as "queued"/"pending" all that time.
      await untilOperation(queuedOp.id, ["cancelled"], 10_000).catch(() => {
        throw new Error("the cancelled queued operation was still queued 10 s after the cancel, while another operation ran");
      });
      await untilRule(queued.id, null, 10_000);
      expect((await ruleOf(running.id))!.status).toBe("installing");
    } finally {
      first.open();
    }
  });

  it("a cancelled queued removal or retry puts the status back to what it was, and never runs", async () => {
    const { serverId, server } = await newServer();
    // One active rule and one failed rule to act on.
    const active = await createRule(serverId);
    await untilRule(active.id, "active");
    server.fault(
      "ufw",
      "boom",
      stubFault.fail({ tool: "ufw", name: "boom", match: portArgs(String(nextPort)), exitCode: 1, stderr: "boom\n" }),
    );
    const failed = await createRule(serverId);
    await untilRule(failed.id, "failed");
    const failedError = (await ruleOf(failed.id))!.errorLog;
    const callsBefore = server.calls().length;

    // Keep the server busy so both actions stay queued.
    const blocker = server.hold("ufw", portArgs(String(nextPort)));
    const busy = await createRule(serverId);
    await blocker.held();
    await e.api.firewall.remove({ id: active.id });
    await e.api.firewall.retry({ id: failed.id });
    expect((await ruleOf(active.id))!.status).toBe("removing");
    expect((await ruleOf(failed.id))!.status).toBe("pending");

    const removal = await operationOf(active.id, "remove");
    const retry = await operationOf(failed.id, "install");
    await e.api.operations.cancel({ id: removal.id });
    await e.api.operations.cancel({ id: retry.id });
    blocker.open();
    await untilRule(busy.id, "active");
    await untilOperation(removal.id, ["cancelled"]);
    await untilOperation(retry.id, ["cancelled"]);
    expect(await transitions.pathOf(active.id)).toEqual(["pending", "installing", "active", "removing", "active"]);
    expect(await transitions.pathOf(failed.id)).toEqual(["pending", "installing", "failed", "pending", "failed"]);
    expect((await ruleOf(failed.id))!.errorLog).toBe(failedError); // the last real error stays readable
    // Only the blocker's command ran since: neither cancelled action reached the server, whose
    // rules are the active one and the blocker's.
    expect(server.calls().slice(callsBefore)).toEqual([
      ["ufw", "allow", "proto", "tcp", "from", "any", "to", "any", "port", busy.port, "comment", `brokeforge:${busy.id}`],
    ]);
    expect(ufwRuleOf(server, active.id)).toBeDefined();
    expect(ufwRuleOf(server, failed.id)).toBeUndefined();
  });

  it("a cancelled running operation stops its command on the server, ends cancelled/failed, and only then the next one runs", async () => {
    const { serverId, server } = await newServer();
    // A server that has run an operation before (host key pinned, SSH connection pooled).
    const earlier = await createRule(serverId);
    await untilRule(earlier.id, "active");
    const hangPort = String(nextPort);
    const hang = server.hang("ufw", portArgs(hangPort));
    const hung = await createRule(serverId);
    const next = await createRule(serverId);
    await hang.held();
    const hungOp = await operationOf(hung.id);
    expect(hungOp.state).toBe("running");
    // Cancel once the milestone has heartbeated, like a user giving up on a slow command
    // (Temporal tells an activity about a cancellation only in reply to a heartbeat).
    await untilHeartbeat(hungOp.workflowId!);

    await e.api.operations.cancel({ id: hungOp.id });
    expect((await untilOperation(hungOp.id, ["cancelled", "failed", "succeeded"])).state).toBe("cancelled");
    await untilRule(hung.id, "failed");
    expect((await ruleOf(hung.id))!.errorLog).toContain("Cancelled");
    await untilRule(next.id, "active");

    // The command was stopped on the server (it did not finish by itself: it never would), and
    // that happened BEFORE the server's next operation ran its command.
    const stoppedAt = hang.stopped();
    expect(stoppedAt, "the cancelled command was never stopped on the server").not.toBeNull();
    const [nextCall] = server.timedCalls("ufw").filter((c) => ` ${c.argv.join(" ")} `.includes(portArgs(next.port)));
    expect(nextCall!.at > stoppedAt!, "the next operation's command ran while the cancelled one still ran").toBe(true);
    expect(ufwRuleOf(server, hung.id)).toBeUndefined();
  });
});

describe("status round trips", () => {
  const crontabLineOf = (server: FakeServer, id: string) =>
    (server.read("/var/spool/cron/crontabs/root") ?? "").split("\n").find((l) => l.endsWith(` # brokeforge:task:${id}`));

  it("pauses and resumes a scheduled task: active → paused → active, its crontab line gone and back", async () => {
    const { serverId, server } = await newServer();
    const task = await e.api.scheduler.create({ serverId, name: "backup", command: "echo backup", user: "root", frequency: "daily" });
    const statusOf = async () => (await e.db.scheduledTask.findUnique({ where: { id: task.id } }))?.status;
    await eventually(async () => (await statusOf()) === "active");
    const line = crontabLineOf(server, task.id);
    expect(line).toMatch(/^0 0 \* \* \* \/bin\/sh /);

    expect((await e.api.scheduler.pause({ id: task.id })).id).toBe(task.id);
    await eventually(async () => (await statusOf()) === "paused");
    expect(crontabLineOf(server, task.id)).toBeUndefined(); // no longer runs...
    expect(server.read(`/opt/brokeforge/scheduler/tasks/${task.id}.sh`)).toContain("\necho backup\n"); // ...but is kept
    await e.api.scheduler.resume({ id: task.id });
    await eventually(async () => (await statusOf()) === "active");
    expect(crontabLineOf(server, task.id)).toBe(line);

    expect(await transitions.pathOf(task.id)).toEqual(["pending", "installing", "active", "updating", "paused", "updating", "active"]);
  });

  it("restarts a supervisor program: active → updating while the restart runs on the server → active", async () => {
    const { serverId, server } = await newServer();
    const program = await e.api.supervisor.create({
      serverId,
      name: "queue",
      command: "php artisan queue:work",
      directory: "/srv",
      user: "root",
      numprocs: 1,
      autostart: true,
      autorestart: true,
    });
    const statusOf = async () => (await e.db.supervisorProgram.findUnique({ where: { id: program.id } }))?.status;
    await eventually(async () => (await statusOf()) === "active");
    const group = `brokeforge-${program.id}`;
    const hold = server.hold("supervisorctl", ` restart ${group}:* `);

    await e.api.supervisor.restart({ id: program.id });
    await hold.held(); // the restart itself is running on the server now
    expect(await statusOf()).toBe("updating");
    hold.open();
    await eventually(async () => (await statusOf()) === "active");

    expect((await transitions.pathOf(program.id)).slice(-3)).toEqual(["active", "updating", "active"]);
    const calls = server.calls("supervisorctl").map((c) => c.slice(1).join(" "));
    const restart = calls.indexOf(`restart ${group}:*`);
    expect(restart).toBeGreaterThan(0);
    expect(calls.slice(restart)).toEqual([`restart ${group}:*`, `status ${group}:*`]); // restarted, then seen RUNNING
  });

  it("retries a failed rule: failed → pending (queued) → active, and the server has the rule", async () => {
    const { serverId, server } = await newServer();
    const port = String(nextPort);
    server.fault(
      "ufw",
      "problem",
      stubFault.fail({ tool: "ufw", name: "problem", match: portArgs(port), exitCode: 1, stderr: "ERROR: problem running ufw\n" }),
    );
    const rule = await createRule(serverId);
    await untilRule(rule.id, "failed");
    server.unfault("ufw", "problem");

    // Another operation holds the server, so the retry waits in the queue where its pending
    // status can be seen for sure.
    const blocker = server.hold("ufw", portArgs(String(nextPort)));
    await createRule(serverId);
    await blocker.held();
    const retried = await e.api.firewall.retry({ id: rule.id });
    expect((await ruleOf(rule.id))!.status).toBe("pending");
    expect((await e.db.operation.findUniqueOrThrow({ where: { id: retried.operationId } })).state).toBe("queued");
    blocker.open();
    await untilRule(rule.id, "active");
    expect((await ruleOf(rule.id))!.errorLog).toBeNull();
    expect(await transitions.pathOf(rule.id)).toEqual(["pending", "installing", "failed", "pending", "installing", "active"]);
    const op = await e.db.operation.findUniqueOrThrow({ where: { id: retried.operationId } });
    expect(op).toMatchObject({ state: "succeeded", isRetry: true });
    expect(ufwRuleOf(server, rule.id)).toBe(`allow proto tcp from any to any port ${port} comment brokeforge:${rule.id}`);
  });

  it("allows 10 retries a minute per user: the 11th gets TOO_MANY_REQUESTS and changes nothing", async () => {
    // A user of its own, so other tests' retries don't count against this budget.
    const { createCaller } = await import("../../trpc/router");
    const user = await e.db.user.create({ data: { email: `retry-limit-${e.env.taskQueue}@example.com`, passwordHash: "x" } });
    const api = createCaller({ principal: { user, via: { kind: "session", sessionId: "retry-limit" } }, ip: "127.0.0.1" });
    const server = await api.servers.create({ name: "retry-limit", host: "127.0.0.1", sshPort: e.peer.port, sshUser: "root" });
    // As if ufw were installed: rules need their package (refused at create otherwise).
    await e.db.serverPackage.create({ data: { serverId: server.id, type: "firewall", name: "ufw", status: "active" } });
    // Its key is not authorized on the peer: every install fails at once (no retries), which is
    // the quickest way to get eleven failed rules.
    const rules = [];
    for (let i = 0; i < 11; i++)
      rules.push(
        await api.firewall.create({
          serverId: server.id,
          name: `r${i}`,
          port: String(nextPort++),
          protocol: "tcp",
          action: "allow",
          source: "",
        }),
      );
    await eventually(async () => (await e.db.firewallRule.count({ where: { serverId: server.id, status: "failed" } })) === 11 || null);

    for (const rule of rules.slice(0, 10)) await api.firewall.retry({ id: rule.id });
    const last = rules[10]!;
    await expect(api.firewall.retry({ id: last.id })).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS" });
    expect((await ruleOf(last.id))!.status).toBe("failed");
    expect(await e.db.operation.count({ where: { resourceId: last.id } })).toBe(1); // nothing was enqueued
    // The other user (the engine's own) is not limited by this one's retries.
    const { serverId, server: mine } = await newServer();
    mine.fault("ufw", "once", stubFault.fail({ tool: "ufw", name: "once", match: portArgs(String(nextPort)), exitCode: 1 }));
    const rule = await createRule(serverId);
    await untilRule(rule.id, "failed");
    mine.unfault("ufw", "once");
    await e.api.firewall.retry({ id: rule.id });
    await untilRule(rule.id, "active");
  });
});
