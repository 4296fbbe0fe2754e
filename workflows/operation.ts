// One operation on one server: begin → each milestone as an activity over SSH → complete,
// or fail/cancel/time out with the resource left in a clear status. Runs as a child of the
// server's queue workflow, so nothing else touches the server meanwhile.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  TimeoutFailure,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
} from "@temporalio/workflow";
import type * as activities from "../activities";
import type { QueuedOperation } from "../domain/resources";

const { runMilestone, checkPreconditions, cleanupOperation } = proxyActivities<typeof activities>({
  startToCloseTimeout: "10 minutes",
  heartbeatTimeout: "20 seconds",
  // On cancel or timeout, wait until the remote command has really stopped: the next
  // operation on this server must not start while it still runs.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: "1 second",
    backoffCoefficient: 2,
    maximumInterval: "20 seconds",
    maximumAttempts: 8, // transport faults; real command failures stop at 3 (counted by the activity)
    nonRetryableErrorTypes: ["SshPermanent", "InvalidInput", "ServerGone", "PreconditionFailed"],
  },
});

// Bookkeeping writes are short database transactions: local activities, run inside the
// workflow task, so they don't each cost a round trip through the Temporal server.
const { beginOperation, completeOperation, failOperation } = proxyLocalActivities<typeof activities>({
  startToCloseTimeout: "30 seconds",
  retry: { initialInterval: "1 second", maximumInterval: "30 seconds", nonRetryableErrorTypes: ["InvalidInput", "PreconditionFailed"] },
});

const COMMAND_GRACE_MS = 5_000;

export async function operationWorkflow(op: QueuedOperation): Promise<void> {
  const timeoutMs = op.timeoutSeconds * 1000;
  const deadline = Date.now() + timeoutMs; // workflow time: deterministic
  let hasCleanup = false;
  try {
    await CancellationScope.withTimeout(timeoutMs, async () => {
      const begun = await beginOperation(op);
      if ("skipped" in begun) return;
      hasCleanup = begun.hasCleanup ?? false;
      const { milestones } = begun;
      if (begun.hasRemoteChecks) {
        setCurrentDetails("Checking preconditions");
        await checkPreconditions({ operationId: op.operationId, serverId: op.serverId });
      }
      // A resumable retry starts after what its failed run finished (begun.firstStep; absent in
      // histories from before it existed).
      const firstStep = begun.firstStep ?? 1;
      for (const [i, milestone] of milestones.entries()) {
        if (i + 1 < firstStep) continue;
        setCurrentDetails(`Step ${i + 1} of ${milestones.length}: ${milestone.label}`);
        await runMilestone({
          operationId: op.operationId,
          serverId: op.serverId,
          step: i + 1,
          name: milestone.name,
          // The operation's own timeout (this scope) governs; the command's is a backstop just after it.
          timeoutMs: Math.max(1000, deadline - Date.now()) + COMMAND_GRACE_MS,
        });
      }
      await completeOperation(op);
      setCurrentDetails("Done");
    });
  } catch (err) {
    // The action's cleanup (a failed deploy's release directory) runs before the row is marked,
    // whatever ended the run; histories from before cleanups existed replay without it.
    const cleanup = async () => {
      if (hasCleanup && patched("operation-cleanup")) await cleanupOperation({ operationId: op.operationId, serverId: op.serverId });
    };
    if (!isCancellation(err)) {
      await cleanup();
      await failOperation({ op, error: describeFailure(err) });
      return;
    }
    // Cancelled by the user (the workflow's own scope), or the operation's time ran out.
    const byUser = CancellationScope.current().consideredCancelled;
    const error = byUser ? "Cancelled by user" : `Timed out after ${op.timeoutSeconds} s`;
    await CancellationScope.nonCancellable(async () => {
      await cleanup();
      await failOperation({ op, error, cancelled: byUser });
    });
    if (byUser) throw err;
  }
}

export function describeFailure(err: unknown): string {
  let cause = err;
  while (cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) cause = cause.cause;
  if (cause instanceof TimeoutFailure) return "Timed out";
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(cause);
}
