// What an operation acts on, loaded from the database by the operation's id: its row says
// which server, which resource and which action; nothing in an activity's input is trusted
// beyond that id. The plan is rebuilt here from the rows (pure builders, cheap), so commands
// and whatever secrets they carry never travel through Temporal's history.
import { ApplicationFailure } from "@temporalio/common";
import { packageDefinition, resourceKind } from "../catalogue";
import { requirePackage, type Plan, type PlanContext, type Precondition, type ResourceKind, type ServerFacts } from "../catalogue/kit";
import { db } from "../core/db";
import { serverFactsSelect, toServerFacts } from "../core/server-facts";
import { kindOfTable, resourceTable, type ResourceRow } from "../core/resources";
import { ensureSecrets } from "../core/secrets";
import { ACTIONS, type Action } from "../domain/resources";
import type { TaskStatus } from "../domain/status";

export interface LoadedOperation {
  operation: {
    id: string;
    serverId: string;
    state: string;
    startedAt: Date | null;
    createdResource: boolean;
    previousStatus: TaskStatus | null;
  };
  kind: ResourceKind;
  action: Action;
  resourceId: string;
  /** null when the resource was deleted meanwhile. */
  resource: ResourceRow | null;
  server: ServerFacts;
  /** The secrets the resource's plans use (kind.secrets), generated on first need; {} for most kinds. */
  secrets: Record<string, string>;
  /** The rows the kind's plans read besides the resource (kind.related). */
  related: Pick<PlanContext, "parent" | "siblings" | "children">;
}

const invalid = (message: string) => ApplicationFailure.nonRetryable(message, "InvalidInput");

/**
 * An operation row for a resource kind this BrokeForge does not have (a kind removed from the
 * catalogue while operations for it were still queued). Not retryable: no retry brings the kind
 * back. `failOperation` settles such an operation rather than refusing it, so the server's
 * queue moves on instead of retrying it until the operation times out.
 */
export class UnknownKind extends ApplicationFailure {
  constructor(operationId: string, type: string) {
    super(`Operation ${operationId} is for a “${type}”, which this version of BrokeForge does not know`, "InvalidInput", true);
  }
}

/** The operation, its kind, resource and server; `null` when the operation no longer exists. */
export async function loadOperation(operationId: string, expectedServerId?: string): Promise<LoadedOperation | null> {
  const operation = await db().operation.findUnique({
    where: { id: operationId },
    include: { server: { select: serverFactsSelect } },
  });
  if (!operation) return null;
  // A queue only ever runs its own server's operations: anything else is a forged signal.
  if (expectedServerId !== undefined && operation.serverId !== expectedServerId) {
    throw invalid(`Operation ${operationId} does not belong to server ${expectedServerId}`);
  }
  const action = ACTIONS.find((a) => a === operation.action);
  if (!action || !operation.resourceType || !operation.resourceId) throw invalid(`Operation ${operationId} is not a resource operation`);
  const kind = resourceKind(operation.resourceType);
  if (!kind) throw new UnknownKind(operationId, operation.resourceType);
  const resource = await resourceTable(kind).findUnique({ where: { id: operation.resourceId } });
  if (resource && resource.serverId !== operation.serverId)
    throw invalid(`Resource ${operation.resourceId} is not on this operation's server`);
  const secrets = resource && kind.secrets ? await ensureSecrets(operation.serverId, kind.secrets(resource)) : {};
  const related = resource ? await relatedRows(kind, resource) : {};
  return { operation, kind, action, resourceId: operation.resourceId, resource, server: toServerFacts(operation.server), secrets, related };
}

/** kind.related: the parent row, the siblings and the children, each on the resource's own server only. */
async function relatedRows(kind: ResourceKind, resource: ResourceRow): Promise<LoadedOperation["related"]> {
  const related: LoadedOperation["related"] = {};
  const { parent, siblings, children } = kind.related ?? {};
  if (parent) {
    const id = resource[parent.key];
    const row = typeof id === "string" ? await resourceTable(kindOfTable(parent.table)).findUnique({ where: { id } }) : null;
    related.parent = row && row.serverId === resource.serverId ? row : null;
  }
  if (siblings) {
    related.siblings = await resourceTable(kind).findMany({
      where: { serverId: resource.serverId, [siblings.key]: resource[siblings.key] },
      orderBy: { createdAt: "desc" },
    });
  }
  if (children) {
    related.children = await resourceTable(kindOfTable(children.table)).findMany({
      where: { serverId: resource.serverId, [children.key]: resource.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    });
  }
  return related;
}

/** What a plan builder of the loaded operation is given. */
export function planContext(loaded: LoadedOperation): PlanContext {
  return { server: loaded.server, secrets: loaded.secrets, ...loaded.related };
}

function actionOf(loaded: LoadedOperation) {
  const definition = loaded.kind.actions[loaded.action];
  if (!definition) throw invalid(`A ${loaded.kind.label.one} can't ${loaded.action}`);
  return definition;
}

/** The plan of a loaded operation. Builders refuse rows that would make unsafe commands: no retry fixes that. */
export function planOf(loaded: LoadedOperation & { resource: ResourceRow }): Plan {
  return buildPlan(() => actionOf(loaded).plan(loaded.resource, planContext(loaded)));
}

/** The cleanup plan of a loaded operation's action (ActionDefinition.cleanup), [] when it has none. */
export function cleanupPlanOf(loaded: LoadedOperation & { resource: ResourceRow }): Plan {
  const cleanup = loaded.kind.actions[loaded.action]?.cleanup;
  return cleanup ? buildPlan(() => cleanup(loaded.resource, planContext(loaded))) : [];
}

function buildPlan(build: () => Plan): Plan {
  try {
    return build();
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : String(e));
  }
}

/**
 * The kind's parent package (anything but a removal needs it: removing a rule after ufw is
 * gone must still work), then the action's own preconditions.
 */
export function preconditionsOf(loaded: LoadedOperation & { resource: ResourceRow }): readonly Precondition[] {
  const { kind, action } = loaded;
  const parent =
    kind.parent && action !== "remove"
      ? [requirePackage(kind.parent, `Install ${packageDefinition(kind.parent)?.label ?? kind.parent} on this server first`)]
      : [];
  try {
    return [...parent, ...(actionOf(loaded).requires?.(loaded.resource, planContext(loaded)) ?? [])];
  } catch (e) {
    throw invalid(e instanceof Error ? e.message : String(e));
  }
}

/** The message of the first package precondition that does not hold (installed = active), or null. */
export async function missingPackage(preconditions: readonly Precondition[], serverId: string): Promise<string | null> {
  for (const p of preconditions) {
    if (p.kind !== "package") continue;
    const installed = await db().serverPackage.count({ where: { serverId, type: p.type, status: "active" } });
    if (!installed) return p.message;
  }
  return null;
}

/**
 * What the runner must keep out of stored output and logs: every secret the plan was given, and,
 * for a secret that is a whole file of KEY=VALUE lines (a site's .env), each value on its own —
 * a deploy script that prints one setting (`php artisan config:show`) must not show it.
 * Values shorter than 6 characters (APP_DEBUG=true) are left: redacting "true" everywhere would
 * make every log unreadable and hide nothing secret.
 */
export function redactionsOf(loaded: Pick<LoadedOperation, "secrets">): string[] {
  const out = new Set<string>();
  for (const value of Object.values(loaded.secrets)) {
    if (!value) continue;
    out.add(value);
    if (!value.includes("\n") && !value.includes("=")) continue;
    for (const line of value.split(/\r?\n/)) {
      const m = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*(.*)$/.exec(line);
      if (!m) continue;
      const raw = m[1]!.trim();
      const unquoted = /^(["']).*\1$/.test(raw) ? raw.slice(1, -1) : raw;
      for (const v of [raw, unquoted]) if (v.length >= 6) out.add(v);
    }
  }
  // Longest first, so a value that contains another is redacted whole.
  return [...out].sort((a, b) => b.length - a.length);
}
