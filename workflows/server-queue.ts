// The server's entity workflow (`server-<id>`): runs its operations strictly one at a time,
// in arrival order, each as a child workflow. A new operation starts the moment the previous
// one ends (no polling). Idle for a while → ends; the next enqueue starts it again.
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  proxyLocalActivities,
  setHandler,
  workflowInfo,
} from "@temporalio/workflow";
import type * as activities from "../activities";
import type { QueuedOperation } from "../domain/resources";
import { operationKindKey, resourceIdKey, resourceTypeKey, serverIdKey } from "../temporal/search-attributes";
import { operationWorkflowId } from "./ids";
import { describeFailure, operationWorkflow } from "./operation";
import { cancelSignal, enqueueSignal, queueQuery } from "./signals";

export interface ServerQueueInput {
  serverId: string;
  /** Operations carried over by continue-as-new. */
  queue?: QueuedOperation[];
  /** Continue-as-new after this many operations, to bound history (default 200). */
  operationsPerRun?: number;
}

const IDLE_TIMEOUT = "10 minutes";

const { failOperation } = proxyLocalActivities<typeof activities>({
  startToCloseTimeout: "30 seconds",
  retry: { initialInterval: "1 second", maximumInterval: "30 seconds" },
});

export async function serverQueueWorkflow({ serverId, queue = [], operationsPerRun = 200 }: ServerQueueInput): Promise<void> {
  const pending: QueuedOperation[] = [...queue];
  let running: { op: QueuedOperation; scope?: CancellationScope; cancelRequested: boolean } | null = null;

  setHandler(enqueueSignal, (op) => {
    const known = running?.op.operationId === op.operationId || pending.some((p) => p.operationId === op.operationId);
    if (!known) pending.push(op); // signal-with-start may deliver twice after a client retry
  });
  // Runs at once, even while another operation is running: a queued operation that is
  // cancelled never runs, and its resource goes back (or away, if it was a create) right now.
  setHandler(cancelSignal, async ({ operationId }) => {
    const i = pending.findIndex((p) => p.operationId === operationId);
    if (i >= 0) {
      const [op] = pending.splice(i, 1);
      await failOperation({ op: op!, error: "Cancelled before it started", cancelled: true });
    } else if (running?.op.operationId === operationId) {
      running.cancelRequested = true;
      running.scope?.cancel();
    }
  });
  setHandler(queueQuery, () => ({ running: running?.op.operationId ?? null, queued: pending.map((p) => p.operationId) }));

  for (let done = 0; ;) {
    const woke = await condition(() => pending.length > 0, IDLE_TIMEOUT);
    if (!woke) break; // idle
    const op = pending.shift();
    if (!op) continue; // cancelled in the same instant

    running = { op, cancelRequested: false };
    try {
      await CancellationScope.cancellable(async () => {
        running!.scope = CancellationScope.current();
        await executeChild(operationWorkflow, {
          workflowId: operationWorkflowId(serverId, op.operationId),
          args: [op],
          // The operation enforces its own timeout and stops its command; this is the backstop.
          workflowExecutionTimeout: `${op.timeoutSeconds + 120} seconds`,
          cancellationType: ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          staticSummary: op.title || `${op.kind} ${op.resourceId}`,
          typedSearchAttributes: [
            { key: serverIdKey, value: serverId },
            { key: operationKindKey, value: op.kind },
            { key: resourceTypeKey, value: op.resourceType },
            { key: resourceIdKey, value: op.resourceId },
          ],
        });
      });
    } catch (err) {
      // The child could not settle the operation itself (timed out, terminated, cancelled
      // before it began): do it here so nothing stays in a transitional status.
      const error = running.cancelRequested ? "Cancelled by user" : `Operation did not finish: ${describeFailure(err)}`;
      await failOperation({ op, error, cancelled: running.cancelRequested });
    }
    running = null;

    if (++done >= operationsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof serverQueueWorkflow>({ serverId, queue: pending, operationsPerRun });
    }
  }
  await condition(allHandlersFinished); // a cancellation still settling its operation
  // A signal that raced the idle timeout: carry it into a fresh run rather than drop it.
  if (pending.length > 0) await continueAsNew<typeof serverQueueWorkflow>({ serverId, queue: pending, operationsPerRun });
}
