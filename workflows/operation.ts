// One operation on one server: begin → each milestone as an activity over SSH → complete,
// or fail/cancel with the resource left in a clear status. Runs as a child of the server's
// queue workflow, so nothing else touches the server meanwhile.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
} from "@temporalio/workflow";
import type * as activities from "../activities";
import type { QueuedOperation } from "../app/domain/resources";

const { runMilestone } = proxyActivities<typeof activities>({
  startToCloseTimeout: "10 minutes",
  heartbeatTimeout: "20 seconds",
  retry: {
    initialInterval: "1 second",
    backoffCoefficient: 2,
    maximumInterval: "20 seconds",
    maximumAttempts: 8, // transport faults; real command failures stop at 3 (counted by the activity)
    nonRetryableErrorTypes: ["SshPermanent", "InvalidInput", "ServerGone"],
  },
});

// Bookkeeping writes: retry until the database answers.
const { beginOperation, completeOperation, failOperation } = proxyActivities<typeof activities>({
  startToCloseTimeout: "30 seconds",
  retry: { initialInterval: "1 second", maximumInterval: "30 seconds", nonRetryableErrorTypes: ["InvalidInput"] },
});

export async function operationWorkflow(op: QueuedOperation): Promise<void> {
  try {
    const begun = await beginOperation(op);
    if ("skipped" in begun) return;
    const { plan } = begun;
    for (const [i, milestone] of plan.entries()) {
      setCurrentDetails(`Step ${i + 1} of ${plan.length}: ${milestone.label}`);
      await runMilestone({
        operationId: op.operationId,
        serverId: op.serverId,
        step: i + 1,
        total: plan.length,
        milestone,
        timeoutMs: op.timeoutSeconds * 1000,
      });
    }
    await completeOperation(op);
    setCurrentDetails("Done");
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => failOperation({ op, error: "Cancelled by user", cancelled: true }));
      throw err;
    }
    await failOperation({ op, error: describeFailure(err) });
  }
}

export function describeFailure(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure || cause instanceof Error) return cause.message;
  return String(cause);
}
