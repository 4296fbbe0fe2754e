// What the server overview and the dashboard show of a server's provisioning: its row (role,
// PHP version, database, status) and where its latest operation is — step n of N with the
// current milestone's label while it runs, the failed step with its output when it failed.
// Read with the servers' own queries, so the live events that already refetch them (every
// milestone start updates its Operation row) move the progress without any polling.
import type { DatabaseEngine, ServerRole } from "../domain/roles";
import type { OperationState, TaskStatus } from "../domain/status";
import { db } from "./db";

export interface ProvisioningView {
  id: string;
  role: ServerRole;
  phpVersion: string | null;
  database: DatabaseEngine | null;
  status: TaskStatus;
  errorLog: string | null;
  updatedAt: Date;
  /** The latest provisioning operation; null until one was queued. */
  operation: {
    id: string;
    state: OperationState;
    /** The milestone running (or last reached); 0 before the first starts. */
    step: number;
    total: number;
    /** Milestones finished (succeeded, or skipped by a retry that resumed after them). */
    done: number;
    /** The label of milestone `step`. */
    label: string | null;
    finishedAt: Date | null;
  } | null;
  /** The milestone that failed in the latest operation, with the end of its output (secrets redacted). */
  failedStep: { step: number; label: string; output: string | null } | null;
}

/** The provisioning of each of these servers that has one, by server id. */
export async function provisioningViews(serverIds: readonly string[]): Promise<Map<string, ProvisioningView>> {
  const out = new Map<string, ProvisioningView>();
  if (serverIds.length === 0) return out;
  const rows = await db().provisioning.findMany({ where: { serverId: { in: [...serverIds] } } });
  if (rows.length === 0) return out;
  const operations = await db().operation.findMany({
    where: { resourceType: "provisioning", resourceId: { in: rows.map((r) => r.id) } },
    orderBy: { createdAt: "desc" },
    distinct: ["resourceId"],
    include: { milestones: { orderBy: { step: "asc" }, select: { step: true, label: true, state: true, outputTail: true } } },
  });
  const latest = new Map(operations.map((o) => [o.resourceId, o]));
  for (const row of rows) {
    const op = latest.get(row.id);
    const failed = op?.milestones.filter((m) => m.state === "failed").at(-1);
    out.set(row.serverId, {
      id: row.id,
      role: row.role,
      phpVersion: row.phpVersion,
      database: row.database,
      status: row.status,
      errorLog: row.errorLog,
      updatedAt: row.updatedAt,
      operation: op
        ? {
            id: op.id,
            state: op.state,
            step: op.milestoneStep,
            total: op.milestoneTotal,
            done: op.milestones.filter((m) => m.state === "succeeded" || m.state === "skipped").length,
            label: op.milestones.find((m) => m.step === op.milestoneStep)?.label ?? null,
            finishedAt: op.finishedAt,
          }
        : null,
      failedStep: failed ? { step: failed.step, label: failed.label, output: failed.outputTail } : null,
    });
  }
  return out;
}
