// The operation bookkeeping activities (activities/operations.ts: beginOperation,
// completeOperation, failOperation, and loadOperation in activities/plans.ts under them),
// called directly in a mocked activity context against this file's own database. The engine
// tests drive the paths a normal operation takes; these are the others, which a workflow only
// reaches when something raced it or a payload is wrong: an operation already settled or
// gone, a resource deleted meanwhile, a retried activity, a queue payload naming another
// server's operation, a row the plan builders refuse. Each early return and each refusal has a
// test that fails without it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockActivityEnvironment } from "@temporalio/testing";
import { DefaultLogger } from "@temporalio/worker";
import { packageDefinition } from "../../catalogue";
import { beginOperation, completeOperation, failOperation } from "../../activities/operations";
import { db } from "../../core/db";
import type { Action, QueuedOperation } from "../../domain/resources";
import type { TaskStatus } from "../../domain/status";
import { setupTestEnv, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let userId: string;
const RUN_ID = "0f0e0d0c-0000-4000-8000-000000000001";
// The SDK logs every failed activity at WARN; the refusals here are expected, and asserted.
const activity = new MockActivityEnvironment(
  { workflowExecution: { workflowId: "operations-activities", runId: RUN_ID } },
  { logger: new DefaultLogger("ERROR") },
);

beforeAll(async () => {
  env = await setupTestEnv();
  userId = (await db().user.create({ data: { email: `ops-activities-${env.taskQueue}@example.com`, passwordHash: "x" } })).id;
});
afterAll(async () => {
  if (env) await teardownTestEnv(env);
});

// --- data, as the mutations write it ------------------------------------------------------

let n = 0;
/** A server with the packages a provisioned one would have (firewall by default). */
async function newServer(packages: readonly string[] = ["firewall"]) {
  const server = await db().server.create({ data: { userId, name: `server-${++n}`, host: "127.0.0.1" } });
  for (const type of packages) {
    await db().serverPackage.create({ data: { serverId: server.id, type, name: packageDefinition(type)!.name, status: "active" } });
  }
  return server;
}

let nextPort = 30_000;
async function newRule(serverId: string, status: TaskStatus = "pending", port = String(nextPort++)) {
  return db().firewallRule.create({ data: { serverId, name: `rule ${port}`, port, protocol: "tcp", action: "allow", status } });
}

interface OperationInput {
  serverId: string;
  resourceId: string;
  action?: Action;
  state?: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  previousStatus?: TaskStatus | null;
  createdResource?: boolean;
  startedAt?: Date;
}
async function newOperation(o: OperationInput) {
  const action = o.action ?? "install";
  return db().operation.create({
    data: {
      serverId: o.serverId,
      userId,
      kind: `firewall_rule.${action}`,
      title: `${action} firewall rule`,
      resourceType: "firewall_rule",
      resourceId: o.resourceId,
      action,
      state: o.state ?? "queued",
      previousStatus: o.previousStatus ?? null,
      createdResource: o.createdResource ?? action === "install",
      startedAt: o.startedAt ?? (o.state === "running" ? new Date("2026-01-01T00:00:00Z") : null),
    },
  });
}

/** What the server's queue puts in its payload for an operation row. */
function queued(op: {
  id: string;
  serverId: string;
  kind: string;
  title: string;
  resourceType: string | null;
  resourceId: string | null;
  action: string;
}) {
  return {
    operationId: op.id,
    serverId: op.serverId,
    kind: op.kind,
    title: op.title,
    resourceType: op.resourceType ?? "",
    resourceId: op.resourceId ?? "",
    action: op.action as Action,
    timeoutSeconds: 600,
  } satisfies QueuedOperation;
}

const begin = (op: QueuedOperation) => activity.run(beginOperation, op);
const complete = (op: QueuedOperation) => activity.run(completeOperation, op);
const fail = (op: QueuedOperation, error: string, cancelled?: boolean) =>
  activity.run(failOperation, { op, error, ...(cancelled === undefined ? {} : { cancelled }) });

const operationRow = (id: string) => db().operation.findUnique({ where: { id } });
const ruleRow = (id: string) => db().firewallRule.findUnique({ where: { id } });

/** The rejection of `p` (fails the test if it resolves). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (value) => expect.fail(`expected a rejection, got ${JSON.stringify(value)}`),
    (err: unknown) => err,
  );
}
const invalidInput = (message: string | RegExp) => expect.objectContaining({ type: "InvalidInput", nonRetryable: true, message });

// --- beginOperation -------------------------------------------------------------------------

describe("beginOperation", () => {
  it("marks a queued operation running and its resource in its transitional status", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "pending");
    await db().firewallRule.update({ where: { id: rule.id }, data: { errorLog: "from an earlier try" } });
    const op = await newOperation({ serverId: server.id, resourceId: rule.id });

    expect(await begin(queued(op))).toEqual({
      milestones: [{ name: "add_rule", label: "Adding firewall rule" }],
      hasRemoteChecks: false,
      firstStep: 1,
      hasCleanup: false, // a firewall rule's install has no cleanup plan (a deploy's does)
    });
    expect(await operationRow(op.id)).toMatchObject({ state: "running", runId: RUN_ID, milestoneTotal: 1, startedAt: expect.any(Date) });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "installing", errorLog: null });
  });

  it("begun again (a retried activity) keeps the time the operation first started", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "installing");
    const startedAt = new Date("2026-01-01T00:00:00Z");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, state: "running", startedAt });

    expect(await begin(queued(op))).toMatchObject({ milestones: [{ name: "add_rule" }] });
    expect(await operationRow(op.id)).toMatchObject({ state: "running", startedAt });
  });

  it("skips an operation that no longer exists", async () => {
    const server = await newServer();
    const rule = await newRule(server.id);
    const op = await newOperation({ serverId: server.id, resourceId: rule.id });
    await db().operation.delete({ where: { id: op.id } });

    expect(await begin(queued(op))).toEqual({ skipped: "operation no longer exists" });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "pending" });
  });

  it.each(["succeeded", "failed", "cancelled"] as const)(
    "skips an operation already %s, touching neither it nor its resource",
    async (state) => {
      const server = await newServer();
      const rule = await newRule(server.id, "active");
      const op = await newOperation({ serverId: server.id, resourceId: rule.id, state });

      expect(await begin(queued(op))).toEqual({ skipped: `operation already ${state}` });
      expect(await operationRow(op.id)).toMatchObject({ state, runId: null, startedAt: null, milestoneTotal: 0 });
      expect(await ruleRow(rule.id)).toMatchObject({ status: "active" });
    },
  );

  it("cancels, and skips, an operation whose resource was deleted meanwhile", async () => {
    const server = await newServer();
    const rule = await newRule(server.id);
    const op = await newOperation({ serverId: server.id, resourceId: rule.id });
    await db().firewallRule.delete({ where: { id: rule.id } });

    expect(await begin(queued(op))).toEqual({ skipped: "resource no longer exists" });
    expect(await operationRow(op.id)).toMatchObject({
      state: "cancelled",
      errorLog: "The resource no longer exists",
      finishedAt: expect.any(Date),
      runId: null,
    });
  });

  it("fails (PreconditionFailed, no retry) when the server lacks the resource's package; a removal needs none", async () => {
    const server = await newServer([]);
    const rule = await newRule(server.id);
    const op = await newOperation({ serverId: server.id, resourceId: rule.id });

    expect(await rejectionOf(begin(queued(op)))).toMatchObject({
      type: "PreconditionFailed",
      nonRetryable: true,
      message: "Install Firewall on this server first",
    });

    // Removing a rule after ufw is gone must still work: no package check for a removal.
    const old = await newRule(server.id, "active");
    const removal = await newOperation({ serverId: server.id, resourceId: old.id, action: "remove", previousStatus: "active" });
    expect(await begin(queued(removal))).toMatchObject({ milestones: [{ name: "remove_rule" }] });
    expect(await ruleRow(old.id)).toMatchObject({ status: "removing" });
  });

  it("refuses (InvalidInput, no retry) a row the plan builder rejects, before anything is marked", async () => {
    const server = await newServer();
    // Written behind the API's validation (which refuses it): the builder is the last line.
    const rule = await newRule(server.id, "pending", "22; reboot");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id });

    expect(await rejectionOf(begin(queued(op)))).toEqual(invalidInput('firewall: bad port "22; reboot"'));
    expect(await operationRow(op.id)).toMatchObject({ state: "queued", runId: null });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "pending" });
  });

  it("refuses (InvalidInput) an action the resource kind does not have", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "active");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, action: "restart", previousStatus: "active" });

    expect(await rejectionOf(begin(queued(op)))).toEqual(invalidInput("A firewall rule can't restart"));
    expect(await operationRow(op.id)).toMatchObject({ state: "queued" });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "active" });
  });
});

// --- completeOperation ----------------------------------------------------------------------

describe("completeOperation", () => {
  it("does nothing for an operation that no longer exists", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "installing");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, state: "running" });
    await db().operation.delete({ where: { id: op.id } });

    await expect(complete(queued(op))).resolves.toBeUndefined();
    expect(await ruleRow(rule.id)).toMatchObject({ status: "installing" });
  });

  it("does not turn an operation that was already settled (cancelled) into a success", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "active");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, state: "cancelled" });
    await db().operation.update({ where: { id: op.id }, data: { errorLog: "Cancelled by user" } });

    await complete(queued(op));
    expect(await operationRow(op.id)).toMatchObject({ state: "cancelled", errorLog: "Cancelled by user", finishedAt: null });
  });

  it("completes a removal (the row is deleted), and again when retried after the row is gone", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "removing");
    const op = await newOperation({
      serverId: server.id,
      resourceId: rule.id,
      action: "remove",
      state: "running",
      previousStatus: "active",
    });

    await complete(queued(op));
    expect(await ruleRow(rule.id)).toBeNull();
    const done = await operationRow(op.id);
    expect(done).toMatchObject({ state: "succeeded", errorLog: null, finishedAt: expect.any(Date) });

    await complete(queued(op));
    expect(await operationRow(op.id)).toMatchObject({ state: "succeeded", finishedAt: done!.finishedAt });
  });
});

// --- failOperation --------------------------------------------------------------------------

describe("failOperation", () => {
  it("does nothing for an operation that no longer exists", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "installing");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, state: "running" });
    await db().operation.delete({ where: { id: op.id } });

    await expect(fail(queued(op), "boom")).resolves.toBeUndefined();
    expect(await ruleRow(rule.id)).toMatchObject({ status: "installing", errorLog: null });
  });

  it.each(["succeeded", "failed", "cancelled"] as const)("leaves an operation already %s, and its resource, as they are", async (state) => {
    const server = await newServer();
    const rule = await newRule(server.id, "active");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, state, createdResource: true });

    await fail(queued(op), "Cancelled before it started", true);
    expect(await operationRow(op.id)).toMatchObject({ state, errorLog: null, finishedAt: null });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "active", errorLog: null });
  });

  it("undoes a queued create that never ran: the resource row is deleted", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "pending");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, createdResource: true });

    await fail(queued(op), "Cancelled before it started", true);
    expect(await ruleRow(rule.id)).toBeNull();
    expect(await operationRow(op.id)).toMatchObject({
      state: "cancelled",
      errorLog: "Cancelled before it started",
      finishedAt: expect.any(Date),
    });
  });

  it("a queued removal that never ran restores the status it started from, without an error on the resource", async () => {
    const server = await newServer();
    const rule = await newRule(server.id, "removing");
    const op = await newOperation({ serverId: server.id, resourceId: rule.id, action: "remove", previousStatus: "active" });

    await fail(queued(op), "Cancelled before it started", true);
    expect(await ruleRow(rule.id)).toMatchObject({ status: "active", errorLog: null });
    expect(await operationRow(op.id)).toMatchObject({ state: "cancelled" });
  });

  it("an install that ran ends failed with the error; a removal that ran goes back to its status, with the error", async () => {
    const server = await newServer();
    const installed = await newRule(server.id, "installing");
    const install = await newOperation({ serverId: server.id, resourceId: installed.id, state: "running" });
    await fail(queued(install), "ufw exited with 1");
    expect(await ruleRow(installed.id)).toMatchObject({ status: "failed", errorLog: "ufw exited with 1" });
    expect(await operationRow(install.id)).toMatchObject({ state: "failed", errorLog: "ufw exited with 1" });

    const removed = await newRule(server.id, "removing");
    const removal = await newOperation({
      serverId: server.id,
      resourceId: removed.id,
      action: "remove",
      state: "running",
      previousStatus: "active",
    });
    await fail(queued(removal), "Timed out after 600 s");
    expect(await ruleRow(removed.id)).toMatchObject({ status: "active", errorLog: "Timed out after 600 s" });
    expect(await operationRow(removal.id)).toMatchObject({ state: "failed", errorLog: "Timed out after 600 s" });
  });
});

// --- what loadOperation refuses, for every activity -----------------------------------------

const activities = [
  ["beginOperation", (op: QueuedOperation) => begin(op)],
  ["completeOperation", (op: QueuedOperation) => complete(op)],
  ["failOperation", (op: QueuedOperation) => fail(op, "boom")],
] as const;

describe.each(activities)("%s refuses a payload that does not match the rows (InvalidInput, no retry)", (_name, call) => {
  it("an operation of another server, named in this server's queue", async () => {
    const server = await newServer();
    const other = await newServer();
    const rule = await newRule(other.id, "pending");
    const op = await newOperation({ serverId: other.id, resourceId: rule.id });

    const forged = { ...queued(op), serverId: server.id };
    expect(await rejectionOf(call(forged))).toEqual(invalidInput(`Operation ${op.id} does not belong to server ${server.id}`));
    expect(await operationRow(op.id)).toMatchObject({ state: "queued", errorLog: null, finishedAt: null });
    expect(await ruleRow(rule.id)).toMatchObject({ status: "pending" });
  });

  it("an operation that is not a resource operation (a connection test)", async () => {
    const server = await newServer();
    const test = await db().operation.create({
      data: {
        serverId: server.id,
        userId,
        kind: "server.test_connection",
        resourceType: "server",
        resourceId: server.id,
        action: "test_connection",
      },
    });

    expect(await rejectionOf(call(queued(test)))).toEqual(invalidInput(`Operation ${test.id} is not a resource operation`));
    expect(await operationRow(test.id)).toMatchObject({ state: "queued", finishedAt: null });
  });

  it("an operation whose resource row belongs to another server", async () => {
    const server = await newServer();
    const other = await newServer();
    const foreign = await newRule(other.id, "active");
    const op = await newOperation({ serverId: server.id, resourceId: foreign.id, action: "remove", previousStatus: "active" });

    expect(await rejectionOf(call(queued(op)))).toEqual(invalidInput(`Resource ${foreign.id} is not on this operation's server`));
    expect(await ruleRow(foreign.id)).toMatchObject({ status: "active" });
    expect(await operationRow(op.id)).toMatchObject({ state: "queued" });
  });
});

// --- an operation for a kind this BrokeForge does not have ------------------------------------

describe("an operation for a resource kind the catalogue no longer has (queued before an upgrade removed it)", () => {
  async function retiredOperation() {
    const server = await newServer();
    const op = await db().operation.create({
      data: {
        serverId: server.id,
        userId,
        kind: "retired_thing.install",
        title: "install retired thing",
        resourceType: "retired_thing",
        resourceId: "r1",
        action: "install",
      },
    });
    return op;
  }
  const message = (id: string) => `Operation ${id} is for a “retired_thing”, which this version of BrokeForge does not know`;

  it("is refused by beginOperation and completeOperation without a retry (InvalidInput)", async () => {
    const op = await retiredOperation();
    expect(await rejectionOf(begin(queued(op)))).toEqual(invalidInput(message(op.id)));
    expect(await rejectionOf(complete(queued(op)))).toEqual(invalidInput(message(op.id)));
    expect(await operationRow(op.id)).toMatchObject({ state: "queued" });
  });

  it("is settled by failOperation, so the server's queue moves on (before, the refusal was retried until it timed out)", async () => {
    const op = await retiredOperation();
    await fail(queued(op), "boom");
    expect(await operationRow(op.id)).toMatchObject({ state: "failed", errorLog: `boom (${message(op.id)})` });
    expect((await operationRow(op.id))?.finishedAt).toBeInstanceOf(Date);
  });
});
