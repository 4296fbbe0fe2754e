// Turns errors inside activities into Temporal failures with the right retry behaviour:
// authentication, host-key mismatch and bad input never retry; network faults do.
import { ApplicationFailure, CancelledFailure } from "@temporalio/common";
import { SshError } from "./ssh/errors";
import { ServerGoneError } from "./targets";

/** Failure types the workflows list as non-retryable. */
export const NON_RETRYABLE = ["SshPermanent", "InvalidInput", "ServerGone", "PreconditionFailed"] as const;

export function toFailure(err: unknown): ApplicationFailure | CancelledFailure {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  if (err instanceof SshError) {
    return err.permanent
      ? ApplicationFailure.nonRetryable(err.message, "SshPermanent", { kind: err.kind })
      : ApplicationFailure.retryable(err.message, "SshTransient", { kind: err.kind });
  }
  if (err instanceof ServerGoneError) return ApplicationFailure.nonRetryable(err.message, "ServerGone");
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.retryable(message, "Internal");
}

/** Runs an activity body and rethrows anything as a classified failure. */
export async function classified<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}
