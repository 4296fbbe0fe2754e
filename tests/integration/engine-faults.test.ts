// What the operation engine does when things go wrong: dropped SSH connections, commands that
// keep failing, a key the server no longer accepts, a user cancelling queued or running work,
// and the everyday status round trips (pause/resume, restart, retry) with the retry rate limit.
// Real engine: Postgres, the Temporal dev server, an in-process worker, the SSH test peer.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { maxOverlap, type PeerHandler } from "../fixtures/ssh-peer";
import { eventually, gate, startEngine, type Engine } from "../setup/engine";
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
beforeEach(() => e.peer.script(() => undefined));

// Firewall rules are the simplest resource: one milestone, one command. Each rule gets its own
// port, so a peer handler can pick out its command before the test even knows the rule's id.
let nextPort = 20_000;
async function createRule(serverId: string) {
  const port = String(nextPort++);
  const row = await e.api.firewall.create({ serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", source: "" });
  return { ...row, port };
}
const isRuleCommand = (port: string) => (cmd: string) => cmd.startsWith("ufw ") && cmd.includes(` port ${port} `);
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
/** How many times the peer ran a command (script steps counted one each). */
const runsOf = (serverId: string, match: (cmd: string) => boolean) => e.peer.commands(serverId).filter(match).length;
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
/** Holds every command `match` accepts until the returned gate opens. */
function holdWhile(match: (cmd: string) => boolean) {
  const hold = gate();
  const handler: PeerHandler = async (cmd) => {
    if (match(cmd)) await hold.opened;
    return undefined;
  };
  return { ...hold, handler };
}

describe("transport and command faults", () => {
  it("retries a milestone whose SSH connection dropped mid-command, and the resource ends active", async () => {
    const { id: serverId } = await e.addServer();
    const port = String(nextPort); // the port createRule will use
    let runs = 0;
    // First run: some output, then the TCP connection is cut under the client. Then: success.
    e.peer.script((cmd) => (isRuleCommand(port)(cmd) && ++runs === 1 ? { delayMs: 200, stdout: "partial\n", drop: true } : undefined));
    const rule = await createRule(serverId);
    expect(rule.port).toBe(port);

    await untilRule(rule.id, "active");
    const op = await untilOperation((await operationOf(rule.id)).id, ["succeeded"]);
    expect(runsOf(serverId, isRuleCommand(port))).toBe(2);
    expect(e.peer.execsFor(serverId).map((x) => x.outcome)).toEqual(["dropped", "exit"]);
    // A transport fault is retried by Temporal but is not one of the 3 allowed command failures.
    const [milestone] = await e.db.operationMilestone.findMany({ where: { operationId: op.id } });
    expect(milestone).toMatchObject({ state: "succeeded", attempts: 2, failures: 0 });
    expect(await activityRuns(op.workflowId!, "runMilestone")).toEqual([{ name: "runMilestone", attempts: 2, outcome: "completed" }]);
  });

  it("fails a command that fails every time after exactly 3 runs, with its error text (and Temporal agrees)", async () => {
    const { id: serverId } = await e.addServer();
    const port = String(nextPort);
    e.peer.script((cmd) => (isRuleCommand(port)(cmd) ? { exitCode: 4, stderr: "ERROR: Could not load rules\n" } : undefined));
    const rule = await createRule(serverId);

    await untilRule(rule.id, "failed");
    const op = await untilOperation((await operationOf(rule.id)).id, ["failed"]);
    expect(runsOf(serverId, isRuleCommand(port))).toBe(3);
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
    const { id: serverId } = await e.addServer();
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
    const { id: serverId } = await e.addServer();
    const first = holdWhile(isRuleCommand(String(nextPort)));
    e.peer.script(first.handler);
    const running = await createRule(serverId);
    await untilRule(running.id, "installing");
    const queued = await createRule(serverId);
    const queuedOp = await operationOf(queued.id);
    expect(queuedOp.state).toBe("queued");

    await e.api.operations.cancel({ id: queuedOp.id });
    first.open();
    await untilRule(running.id, "active");
    await untilRule(queued.id, null); // deleted: it was only ever pending
    expect((await untilOperation(queuedOp.id, ["cancelled"])).errorLog).toMatch(/Cancelled/);
    expect(runsOf(serverId, isRuleCommand(queued.port))).toBe(0);
    expect(await transitions.pathOf(queued.id)).toEqual(["pending", null]);
  });

  it("cancelling a queued operation takes effect at once, not when the running one finishes", async () => {
    const { id: serverId } = await e.addServer();
    const first = holdWhile(isRuleCommand(String(nextPort)));
    e.peer.script(first.handler);
    try {
      const running = await createRule(serverId);
      await untilRule(running.id, "installing");
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
    const { id: serverId } = await e.addServer();
    // One active rule and one failed rule to act on.
    const active = await createRule(serverId);
    await untilRule(active.id, "active");
    const failing = isRuleCommand(String(nextPort));
    e.peer.script((cmd) => (failing(cmd) ? { exitCode: 1, stderr: "boom\n" } : undefined));
    const failed = await createRule(serverId);
    await untilRule(failed.id, "failed");
    const failedError = (await ruleOf(failed.id))!.errorLog;
    const runsBefore = e.peer.commands(serverId).length;

    // Keep the server busy so both actions stay queued.
    const blocker = holdWhile(isRuleCommand(String(nextPort)));
    e.peer.script(blocker.handler);
    const busy = await createRule(serverId);
    await untilRule(busy.id, "installing");
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
    // Only the blocker's command ran since: neither cancelled action reached the server.
    expect(e.peer.commands(serverId).slice(runsBefore)).toEqual([expect.stringContaining(` port ${busy.port} `)]);
  });

  it("a cancelled running operation stops its remote command, ends cancelled/failed, and only then the next one runs", async () => {
    const { id: serverId } = await e.addServer();
    // A server that has run an operation before (host key pinned, SSH connection pooled).
    const earlier = await createRule(serverId);
    await untilRule(earlier.id, "active");
    const hangPort = String(nextPort);
    e.peer.script((cmd) => (isRuleCommand(hangPort)(cmd) ? { hang: true } : undefined));
    const hung = await createRule(serverId);
    const next = await createRule(serverId);
    const hungExec = await e.peer.waitForExec((x) => x.serverKey === serverId && x.command.includes(` port ${hangPort} `), 30_000);
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

    // The remote command was stopped (TERM on the lifeline, or its channel closed), it did not
    // finish by itself — and that happened BEFORE the server's next operation ran.
    expect(hungExec.outcome, "the cancelled command was still running on the server when the next operation ran").toMatch(
      /^(signal|closed)$/,
    );
    const nextExec = e.peer.execsFor(serverId).find((x) => x.command.includes(` port ${next.port} `))!;
    expect(nextExec.startedAt).toBeGreaterThanOrEqual(hungExec.endedAt!);
    expect(maxOverlap(e.peer.execsFor(serverId))).toBe(1);
  });
});

describe("status round trips", () => {
  it("pauses and resumes a scheduled task: active → paused → active", async () => {
    const { id: serverId } = await e.addServer();
    const task = await e.api.scheduler.create({ serverId, name: "backup", command: "echo backup", user: "root", frequency: "daily" });
    const statusOf = async () => (await e.db.scheduledTask.findUnique({ where: { id: task.id } }))?.status;
    await eventually(async () => (await statusOf()) === "active");

    expect((await e.api.scheduler.pause({ id: task.id })).id).toBe(task.id);
    await eventually(async () => (await statusOf()) === "paused");
    await e.api.scheduler.resume({ id: task.id });
    await eventually(async () => (await statusOf()) === "active");

    expect(await transitions.pathOf(task.id)).toEqual(["pending", "installing", "active", "updating", "paused", "updating", "active"]);
    const milestones = e.peer.execsFor(serverId).map((x) => x.steps!.map((s) => s.label));
    expect(milestones[1]).toEqual(["Removing the crontab entry"]); // pause: the crontab line only
    expect(milestones[2]).toContain("Adding the crontab entry"); // resume: installed again
  });

  it("restarts a supervisor program: active → updating → active", async () => {
    const { id: serverId } = await e.addServer();
    const program = await e.api.supervisor.create({
      serverId,
      name: "queue",
      command: "php artisan queue:work",
      directory: "/home/brokeforge",
      user: "root",
      numprocs: 1,
      autostart: true,
      autorestart: true,
    });
    const statusOf = async () => (await e.db.supervisorProgram.findUnique({ where: { id: program.id } }))?.status;
    await eventually(async () => (await statusOf()) === "active");
    const hold = holdWhile((cmd) => cmd.includes(" restart"));
    e.peer.script(hold.handler);

    await e.api.supervisor.restart({ id: program.id });
    await eventually(
      async () => (await statusOf()) === "updating" && e.peer.execsFor(serverId).some((x) => x.command.includes(" restart")),
    );
    expect(await statusOf()).toBe("updating"); // while the restart runs
    hold.open();
    await eventually(async () => (await statusOf()) === "active");

    expect((await transitions.pathOf(program.id)).slice(-3)).toEqual(["active", "updating", "active"]);
    expect(
      e.peer
        .execsFor(serverId)
        .at(-1)!
        .steps!.map((s) => s.label),
    ).toEqual(["Restarting the program"]);
  });

  it("retries a failed rule: failed → pending → active", async () => {
    const { id: serverId } = await e.addServer();
    const port = String(nextPort);
    let failing = true;
    e.peer.script((cmd) => (failing && isRuleCommand(port)(cmd) ? { exitCode: 1, stderr: "ERROR: problem running ufw\n" } : undefined));
    const rule = await createRule(serverId);
    await untilRule(rule.id, "failed");

    failing = false;
    const retried = await e.api.firewall.retry({ id: rule.id });
    expect((await ruleOf(rule.id))!.status).toBe("pending"); // at once, before the engine picks it up
    await untilRule(rule.id, "active");
    expect((await ruleOf(rule.id))!.errorLog).toBeNull();
    expect(await transitions.pathOf(rule.id)).toEqual(["pending", "installing", "failed", "pending", "installing", "active"]);
    const op = await e.db.operation.findUniqueOrThrow({ where: { id: retried.operationId } });
    expect(op).toMatchObject({ state: "succeeded", isRetry: true });
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
    const { id: serverId } = await e.addServer();
    const failing = isRuleCommand(String(nextPort));
    e.peer.script((cmd) => (failing(cmd) ? { exitCode: 1 } : undefined));
    const mine = await createRule(serverId);
    await untilRule(mine.id, "failed");
    e.peer.script(() => undefined);
    await e.api.firewall.retry({ id: mine.id });
    await untilRule(mine.id, "active");
  });
});
