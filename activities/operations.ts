// Operation bookkeeping: the status lifecycle of the seeds, written at the edges of each
// operation. Every function is idempotent (a retried activity must not double-apply).
import { ApplicationFailure, Context } from "@temporalio/activity";
import { ACTION_STATUS, type QueuedOperation } from "../domain/resources";
import { db } from "../core/db";
import { resourceTable } from "../core/resources";
import { classified } from "./failures";
import { planFor } from "./packages/registry";
import type { Plan } from "./packages/types";

/** Marks the operation running and the resource in its transitional status; returns the plan. */
export async function beginOperation(op: QueuedOperation): Promise<{ plan: Plan } | { skipped: string }> {
  return classified(async () => {
    const row = await db().operation.findUnique({ where: { id: op.operationId } });
    if (!row) return { skipped: "operation no longer exists" };
    if (row.state !== "queued" && row.state !== "running") return { skipped: `operation already ${row.state}` };
    const resource = await resourceTable(op.resourceType).findUnique({ where: { id: op.resourceId } });
    if (!resource) {
      await finish(op.operationId, "cancelled", "The resource no longer exists");
      return { skipped: "resource no longer exists" };
    }
    const plan = await planFor(op, resource).catch((e: Error) => {
      // Builders refuse rows that would produce unsafe commands: retrying can't fix that.
      throw ApplicationFailure.nonRetryable(e.message, "InvalidInput");
    });
    const runId = Context.current().info.workflowExecution?.runId;
    await db().$transaction(async (tx) => {
      await tx.operation.update({
        where: { id: op.operationId },
        data: { state: "running", startedAt: row.startedAt ?? new Date(), runId, milestoneTotal: plan.length },
      });
      await resourceTable(op.resourceType, tx).updateMany({
        where: { id: op.resourceId },
        data: { status: ACTION_STATUS[op.action].during, errorLog: null },
      });
    });
    return { plan };
  });
}

/** Success: the resource takes its final status (or is deleted, for a removal). */
export async function completeOperation(op: QueuedOperation): Promise<void> {
  return classified(async () => {
    const success = ACTION_STATUS[op.action].success;
    await db().$transaction(async (tx) => {
      const table = resourceTable(op.resourceType, tx);
      if (success === null) await table.deleteMany({ where: { id: op.resourceId } });
      else await table.updateMany({ where: { id: op.resourceId }, data: { status: success, errorLog: null } });
      await tx.operation.updateMany({
        where: { id: op.operationId, state: { in: ["queued", "running"] } },
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
    const row = await db().operation.findUnique({ where: { id: op.operationId } });
    if (!row || (row.state !== "queued" && row.state !== "running")) return; // already settled
    const neverRan = row.state === "queued";
    await db().$transaction(async (tx) => {
      const table = resourceTable(op.resourceType, tx);
      if (neverRan && row.createdResource) await table.deleteMany({ where: { id: op.resourceId } });
      else if (op.action === "install" && !neverRan)
        await table.updateMany({ where: { id: op.resourceId }, data: { status: "failed", errorLog: error } });
      else
        await table.updateMany({
          where: { id: op.resourceId },
          data: { status: row.previousStatus ?? "failed", errorLog: neverRan ? undefined : error },
        });
      await tx.operation.update({
        where: { id: op.operationId },
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
