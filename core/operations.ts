// Enqueueing and cancelling operations. The caller has already written the resource row
// (status pending, visible at once); we record the operation and hand it to the server's
// queue workflow with signal-with-start. We never wait for the work itself.
import { TRPCError } from "@trpc/server";
import { WorkflowNotFoundError } from "@temporalio/client";
import type { Action, QueuedOperation } from "../domain/resources";
import type { TaskStatus } from "../domain/status";
import { taskQueue, temporalClient } from "../temporal/client";
import { serverIdKey } from "../temporal/search-attributes";
import { operationWorkflowId, serverWorkflowId } from "../workflows/ids";
import { cancelSignal, enqueueSignal } from "../workflows/signals";
import { db, type PrismaClient } from "./db";
import { sharedEnv } from "./env";
import { kindOf, resourceTable } from "./resources";

/** Retries a user may start per minute (seed: 10). */
export const RETRY_LIMIT_PER_MINUTE = 10;

export interface EnqueueInput {
  userId: string;
  /** What the operation does, in words (see operationTitle in catalogue/kit.ts). */
  title: string;
  serverId: string;
  resourceType: string;
  resourceId: string;
  action: Action;
  previousStatus: TaskStatus | null;
  createdResource: boolean;
  isRetry?: boolean;
}

/**
 * How long this operation may run: OPERATION_TIMEOUT_SECONDS, times the action's `timeoutScale`
 * (provisioning is a dozen packages' apt work in one operation: 10 minutes is one package's
 * worth, not a role's).
 */
export function operationTimeoutSeconds(resourceType: string, action: Action): number {
  return sharedEnv().OPERATION_TIMEOUT_SECONDS * (kindOf(resourceType).actions[action]?.timeoutScale ?? 1);
}

export async function enqueueOperation(input: EnqueueInput) {
  return dispatchOperation(await recordOperation(input));
}

type OperationClient = Pick<PrismaClient, "operation">;
type RecordedOperation = EnqueueInput & { operationId: string };

/**
 * Writes the operation row only (queued), on `client`: a transaction that also writes the row
 * it acts on (a deploy's deployment) makes both visible at once. Hand the result to
 * `dispatchOperation` after the commit, never inside the transaction: the worker could load the
 * operation before its resource row exists.
 */
export async function recordOperation(input: EnqueueInput, client: OperationClient = db()): Promise<RecordedOperation> {
  const kind = `${input.resourceType}.${input.action}`;
  const operation = await client.operation.create({
    data: {
      serverId: input.serverId,
      userId: input.userId,
      kind,
      title: input.title,
      resourceType: input.resourceType,
      resourceId: input.resourceId,
      action: input.action,
      previousStatus: input.previousStatus,
      createdResource: input.createdResource,
      isRetry: input.isRetry ?? false,
      workflowId: operationWorkflowId(input.serverId, "pending"),
    },
  });
  await client.operation.update({
    where: { id: operation.id },
    data: { workflowId: operationWorkflowId(input.serverId, operation.id) },
  });
  return { ...input, operationId: operation.id };
}

/** Hands a recorded operation to its server's queue (signal-with-start). */
export async function dispatchOperation(input: RecordedOperation) {
  const kind = `${input.resourceType}.${input.action}`;
  const queued: QueuedOperation = {
    operationId: input.operationId,
    serverId: input.serverId,
    kind,
    title: input.title,
    resourceType: input.resourceType,
    resourceId: input.resourceId,
    action: input.action,
    timeoutSeconds: operationTimeoutSeconds(input.resourceType, input.action),
  };
  try {
    const client = await temporalClient();
    await client.workflow.signalWithStart("serverQueueWorkflow", {
      workflowId: serverWorkflowId(input.serverId),
      taskQueue: taskQueue(),
      args: [{ serverId: input.serverId }],
      signal: enqueueSignal,
      signalArgs: [queued],
      staticSummary: `Operation queue of server ${input.serverId}`,
      typedSearchAttributes: [{ key: serverIdKey, value: input.serverId }],
    });
  } catch (e) {
    // Temporal unreachable: fail visibly instead of leaving the resource pending forever.
    const message = `Could not queue the operation: ${(e as Error).message}`;
    await db().operation.update({ where: { id: input.operationId }, data: { state: "failed", errorLog: message, finishedAt: new Date() } });
    const table = resourceTable(input.resourceType);
    await table.updateMany({
      where: { id: input.resourceId },
      data: input.action === "install" ? { status: "failed", errorLog: message } : { status: input.previousStatus ?? "failed" },
    });
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message });
  }
  return { operationId: input.operationId, workflowId: operationWorkflowId(input.serverId, input.operationId) };
}

export async function assertRetryAllowed(userId: string): Promise<void> {
  const recent = await db().operation.count({
    where: { userId, isRetry: true, createdAt: { gte: new Date(Date.now() - 60_000) } },
  });
  if (recent >= RETRY_LIMIT_PER_MINUTE) {
    throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `At most ${RETRY_LIMIT_PER_MINUTE} retries a minute. Try again shortly.` });
  }
}

/** Asks the server's queue to cancel an operation (queued: never runs; running: stopped). */
export async function requestCancel(serverId: string, operationId: string): Promise<void> {
  const client = await temporalClient();
  try {
    await client.workflow.getHandle(serverWorkflowId(serverId)).signal(cancelSignal, { operationId });
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new TRPCError({ code: "CONFLICT", message: "The operation is no longer running" });
    throw e;
  }
}

/** A deleted server's queue has nothing left to do: end it (and its running operation) now. */
export async function stopServerQueue(serverId: string): Promise<void> {
  try {
    const client = await temporalClient();
    await client.workflow.getHandle(serverWorkflowId(serverId)).terminate("server deleted");
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) console.warn(`[servers] could not stop the queue of ${serverId}: ${(e as Error).message}`);
  }
}
