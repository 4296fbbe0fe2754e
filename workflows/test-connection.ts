import { ActivityFailure, ApplicationFailure, proxyActivities } from "@temporalio/workflow";
import type * as activities from "../activities";

export interface TestConnectionInput {
  serverId: string;
  operationId: string;
}

/** Attempts at reaching an unreachable host before giving up (≈ 1 + 2 + 4 s of backoff). */
export const PROBE_MAX_ATTEMPTS = 4;

const { probeServer } = proxyActivities<typeof activities>({
  startToCloseTimeout: "45s",
  retry: {
    initialInterval: "1s",
    backoffCoefficient: 2,
    maximumInterval: "10s",
    maximumAttempts: PROBE_MAX_ATTEMPTS,
    nonRetryableErrorTypes: ["SshPermanent", "InvalidInput", "ServerGone"],
  },
});

// Bookkeeping writes retry until the database is back.
const { markOperationRunning, recordConnectionOutcome } = proxyActivities<typeof activities>({
  startToCloseTimeout: "15s",
  retry: { initialInterval: "1s", maximumInterval: "30s" },
});

export async function testConnectionWorkflow({ serverId, operationId }: TestConnectionInput): Promise<void> {
  await markOperationRunning({ operationId });
  try {
    const probe = await probeServer({ serverId });
    await recordConnectionOutcome({ serverId, operationId, result: { ok: true, probe } });
  } catch (err) {
    await recordConnectionOutcome({ serverId, operationId, result: { ok: false, error: describe(err) } });
  }
}

function describe(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return cause.nonRetryable || cause.type === "SshPermanent"
      ? cause.message
      : `${cause.message} (gave up after ${PROBE_MAX_ATTEMPTS} attempts)`;
  }
  return cause instanceof Error ? cause.message : String(cause);
}
