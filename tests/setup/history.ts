// Reads what Temporal itself recorded about an operation's activities (its workflow history),
// so a test can check retry behaviour on the engine's own evidence, not only on our tables.
// Temporal keeps ONE scheduled/started/closed triple per activity however often it retried:
// the started event carries the final attempt number.

export interface ActivityRun {
  name: string;
  /** Attempts it took in all (1 = no retry). */
  attempts: number;
  outcome: "completed" | "failed" | "timedOut" | "canceled" | "open";
  failureType?: string;
  failureMessage?: string;
  nonRetryable?: boolean;
}

export async function activityRuns(workflowId: string, name?: string): Promise<ActivityRun[]> {
  const { temporalClient } = await import("../../temporal/client");
  const client = await temporalClient();
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const runs = new Map<string, ActivityRun>(); // by scheduled event id
  for (const ev of history.events ?? []) {
    const scheduled = ev.activityTaskScheduledEventAttributes;
    if (scheduled) runs.set(String(ev.eventId), { name: scheduled.activityType?.name ?? "?", attempts: 0, outcome: "open" });
    const started = ev.activityTaskStartedEventAttributes;
    if (started) runs.get(String(started.scheduledEventId))!.attempts = started.attempt ?? 0;
    const completed = ev.activityTaskCompletedEventAttributes;
    if (completed) runs.get(String(completed.scheduledEventId))!.outcome = "completed";
    const failed = ev.activityTaskFailedEventAttributes;
    if (failed) {
      Object.assign(runs.get(String(failed.scheduledEventId))!, {
        outcome: "failed",
        failureType: failed.failure?.applicationFailureInfo?.type ?? undefined,
        failureMessage: failed.failure?.message ?? undefined,
        nonRetryable: failed.failure?.applicationFailureInfo?.nonRetryable ?? false,
      });
    }
    const timedOut = ev.activityTaskTimedOutEventAttributes;
    if (timedOut) runs.get(String(timedOut.scheduledEventId))!.outcome = "timedOut";
    const canceled = ev.activityTaskCanceledEventAttributes;
    if (canceled) runs.get(String(canceled.scheduledEventId))!.outcome = "canceled";
  }
  const all = [...runs.values()];
  return name ? all.filter((r) => r.name === name) : all;
}
