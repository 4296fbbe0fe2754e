// Operation bookkeeping: the status lifecycle of the seeds, written at the edges of each
// operation. Every function is idempotent (a retried activity must not double-apply), and
// each derives what it touches from the Operation row (activities/plans.ts), never from
// the workflow's input beyond the operation id.
import { ApplicationFailure, Context } from "@temporalio/activity";
import { statusesOf, type Plan } from "../catalogue/kit";
import type { QueuedOperation } from "../domain/resources";
import { db } from "../core/db";
import { kindOfTable, resourceTable } from "../core/resources";
import { classified } from "./failures";
import { loadOperation, missingPackage, planContext, planOf, preconditionsOf, UnknownKind, type LoadedOperation } from "./plans";

/** What the workflow needs to drive the operation: milestone names and labels, no commands. */
export interface BegunOperation {
  milestones: { name: string; label: string }[];
  /** Whether checkPreconditions has something to check on the server. */
  hasRemoteChecks: boolean;
  /** The first milestone to run (1-based): > 1 when a resumable retry skips what already succeeded. */
  firstStep: number;
  /** Whether the action has a cleanup plan to run if the operation fails (ActionDefinition.cleanup). */
  hasCleanup?: boolean;
}

/** Marks the operation running and the resource in its transitional status. */
export async function beginOperation(op: QueuedOperation): Promise<BegunOperation | { skipped: string }> {
  return classified(async () => {
    const loaded = await loadOperation(op.operationId, op.serverId);
    if (!loaded) return { skipped: "operation no longer exists" };
    const { operation, kind, action, resource } = loaded;
    if (operation.state !== "queued" && operation.state !== "running") return { skipped: `operation already ${operation.state}` };
    if (!resource) {
      await finish(operation.id, "cancelled", "The resource no longer exists");
      return { skipped: "resource no longer exists" };
    }
    const plan = planOf({ ...loaded, resource });
    const preconditions = preconditionsOf({ ...loaded, resource });
    const runId = Context.current().info.workflowExecution?.runId;
    await db().$transaction(async (tx) => {
      await tx.operation.update({
        where: { id: operation.id },
        data: { state: "running", startedAt: operation.startedAt ?? new Date(), runId, milestoneTotal: plan.length },
      });
      await resourceTable(kind, tx).updateMany({
        where: { id: resource.id },
        data: { status: statusesOf(kind, action).during, errorLog: null },
      });
    });
    // Packages the plan needs are checked here, in the database (no round trip); what must be
    // true on the server is checked by the checkPreconditions activity.
    const missing = await missingPackage(preconditions, loaded.server.id);
    if (missing) throw ApplicationFailure.nonRetryable(missing, "PreconditionFailed");
    const firstStep = kind.actions[action]?.resumable ? await resumeFrom(operation.id, resource.id, action, plan) : 1;
    return {
      milestones: plan.map(({ name, label }) => ({ name, label })),
      hasRemoteChecks: preconditions.some((p) => p.kind === "check"),
      firstStep,
      hasCleanup: kind.actions[action]?.cleanup !== undefined,
    };
  });
}

/**
 * Where a resumable action's retry starts: after the leading milestones that succeeded in the
 * resource's last run of this action, when that run failed or was cancelled and its milestones
 * have the same names in the same order as today's plan (a changed plan — another role, another
 * PHP version — starts over). The skipped milestones are written to this operation as
 * "skipped", so its progress reads "step 5 of 12" with steps 1–4 done before.
 */
async function resumeFrom(operationId: string, resourceId: string, action: string, plan: Plan): Promise<number> {
  const previous = await db().operation.findFirst({
    where: { resourceId, action, id: { not: operationId }, startedAt: { not: null }, state: { in: ["succeeded", "failed", "cancelled"] } },
    orderBy: { createdAt: "desc" },
    include: { milestones: { orderBy: { step: "asc" } } },
  });
  if (!previous || previous.state === "succeeded") return 1;
  let done = 0;
  for (const m of previous.milestones) {
    const ok = m.state === "succeeded" || m.state === "skipped";
    if (m.step !== done + 1 || !ok || plan[done]?.name !== m.name) break;
    done++;
  }
  if (done === 0) return 1;
  await db().$transaction(
    plan.slice(0, done).map((m, i) =>
      db().operationMilestone.upsert({
        where: { operationId_step: { operationId, step: i + 1 } },
        create: { operationId, step: i + 1, total: plan.length, name: m.name, label: m.label, state: "skipped", finishedAt: new Date() },
        update: {},
      }),
    ),
  );
  return done + 1;
}

/** Success: the resource takes its final status (or is deleted, for a removal). */
export async function completeOperation(op: QueuedOperation): Promise<void> {
  return classified(async () => {
    const loaded = await loadOperation(op.operationId, op.serverId);
    if (!loaded) return;
    const { success } = statusesOf(loaded.kind, loaded.action);
    await db().$transaction(async (tx) => {
      const table = resourceTable(loaded.kind, tx);
      if (success === null) await table.deleteMany({ where: { id: loaded.resourceId } });
      else await table.updateMany({ where: { id: loaded.resourceId }, data: { status: success, errorLog: null } });
      if (loaded.operation.state === "running") await applyEffects(tx, loaded, "succeeded");
      await tx.operation.updateMany({
        where: { id: loaded.operation.id, state: { in: ["queued", "running"] } },
        data: { state: "succeeded", finishedAt: new Date(), errorLog: null },
      });
    });
  });
}

/**
 * Failure or cancellation (the seed's `failed()`): never leave a transitional status behind.
 * An install ends `failed` with the error; any other action restores the status it started from.
 * A queued operation that never ran is undone instead: a create is deleted, others restored.
 */
export async function failOperation(input: { op: QueuedOperation; error: string; cancelled?: boolean }): Promise<void> {
  return classified(async () => {
    const { op, error, cancelled = false } = input;
    let loaded;
    try {
      loaded = await loadOperation(op.operationId, op.serverId);
    } catch (e) {
      // Its resource's table is unknown, so only the operation can be settled: the queue moves on.
      if (e instanceof UnknownKind) return finish(op.operationId, cancelled ? "cancelled" : "failed", `${error} (${e.message})`);
      throw e;
    }
    if (!loaded) return;
    const { operation: row, kind, action, resourceId } = loaded;
    if (row.state !== "queued" && row.state !== "running") return; // already settled
    const neverRan = row.state === "queued";
    await db().$transaction(async (tx) => {
      const table = resourceTable(kind, tx);
      if (neverRan && row.createdResource) await table.deleteMany({ where: { id: resourceId } });
      else if (action === "install" && !neverRan)
        await table.updateMany({ where: { id: resourceId }, data: { status: "failed", errorLog: error } });
      else
        await table.updateMany({
          where: { id: resourceId },
          data: { status: row.previousStatus ?? "failed", errorLog: neverRan ? undefined : error },
        });
      if (!neverRan) await applyEffects(tx, loaded, "failed", error);
      await tx.operation.update({
        where: { id: row.id },
        data: { state: cancelled ? "cancelled" : "failed", errorLog: error, finishedAt: new Date() },
      });
    });
  });
}

async function finish(operationId: string, state: "cancelled" | "failed", error: string) {
  await db().operation.updateMany({
    where: { id: operationId, state: { in: ["queued", "running"] } },
    data: { state, errorLog: error, finishedAt: new Date() },
  });
}

type Tx = Parameters<Parameters<ReturnType<typeof db>["$transaction"]>[0]>[0];

/**
 * ActionDefinition.effects: the other rows an outcome changes (a deploy becomes its site's
 * active deployment), in the transaction that settles the operation, so the site never points
 * at a deployment that did not succeed. Each update goes to a kind's table, on this server only.
 */
async function applyEffects(tx: Tx, loaded: LoadedOperation, result: "succeeded" | "failed", error?: string): Promise<void> {
  const effects = loaded.kind.actions[loaded.action]?.effects;
  if (!effects || !loaded.resource) return;
  const row = (await resourceTable(loaded.kind, tx).findUnique({ where: { id: loaded.resourceId } })) ?? loaded.resource;
  const milestones = await tx.operationMilestone.findMany({
    where: { operationId: loaded.operation.id },
    orderBy: { step: "asc" },
    select: { name: true, state: true, exitCode: true, startedAt: true, finishedAt: true },
  });
  const updates = effects({ row, result, error, startedAt: loaded.operation.startedAt, at: new Date(), milestones }, planContext(loaded));
  for (const update of updates) {
    const { count } = await resourceTable(kindOfTable(update.table), tx).updateMany({
      where: { id: update.id, serverId: loaded.operation.serverId },
      data: { ...update.data },
    });
    if (count === 0) Context.current().log.warn(`An effect of operation ${loaded.operation.id} found no ${update.table} ${update.id}`);
  }
}
