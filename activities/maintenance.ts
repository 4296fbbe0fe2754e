// Housekeeping the worker runs on a timer: change events are a replay buffer for live
// clients (they resume from their last id), not an audit log, so old ones are pruned.
import { db } from "../core/db";

export const CHANGE_EVENT_RETENTION_HOURS = 7 * 24;

export async function pruneChangeEvents({ olderThanHours = CHANGE_EVENT_RETENTION_HOURS } = {}): Promise<number> {
  const { count } = await db().changeEvent.deleteMany({
    where: { createdAt: { lt: new Date(Date.now() - olderThanHours * 3600_000) } },
  });
  return count;
}

/** Prunes now and then hourly; returns a stop function. */
export function startMaintenance(log: (msg: string) => void = console.log): () => void {
  const run = () =>
    pruneChangeEvents().then(
      (n) => n > 0 && log(`[maintenance] pruned ${n} change events older than ${CHANGE_EVENT_RETENTION_HOURS} h`),
      (e) => log(`[maintenance] pruning change events failed: ${(e as Error).message}`),
    );
  void run();
  const timer = setInterval(run, 3600_000);
  timer.unref();
  return () => clearInterval(timer);
}
