// The shared shape of every resource mutation, for every kind in the catalogue: move the row
// to the status the user should see at once (atomically, so two clicks can't both win), write
// the operation with its title, enqueue. Ownership was checked by the procedure's middleware.
import { TRPCError } from "@trpc/server";
import { ZodRealError } from "zod";
import { FieldError, operationTitle, statusesOf, type ResourceKind, type ServerFacts } from "../catalogue/kit";
import type { Action } from "../domain/resources";
import { packageDefinition } from "../catalogue";
import { db } from "../core/db";
import { assertRetryAllowed, enqueueOperation } from "../core/operations";
import { resourceTable, type ResourceRow } from "../core/resources";
import { dependentsOf } from "../core/dependents";
import { serverPackage } from "../catalogue/resources/package";

/**
 * Refuses a new resource whose parent package is neither installed nor on its way (a
 * firewall rule on a server without ufw): the user is told at once, and nothing is queued
 * that could only fail. The engine checks again when the operation runs.
 */
async function assertParentInstalled(kind: ResourceKind, serverId: string): Promise<void> {
  if (!kind.parent) return;
  const present = await db().serverPackage.count({
    where: { serverId, type: kind.parent, status: { in: ["pending", "installing", "active", "updating"] } },
  });
  if (!present) {
    const label = packageDefinition(kind.parent)?.label ?? kind.parent;
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: `Install ${label} on this server first` });
  }
}

/** What the transaction that inserts a new row gives `CreateOptions.within`. */
export type LifecycleTx = Parameters<Parameters<ReturnType<typeof db>["$transaction"]>[0]>[0];

export interface CreateOptions {
  userId: string;
  server: ServerFacts;
  input: unknown;
  /** Columns only the server computes (a site's id and deploy token), added to the create hook's. */
  extra?: Record<string, unknown>;
  /** Runs in the insert's transaction, after it (a site's .env secret): both land or neither. */
  within?(tx: LifecycleTx, row: ResourceRow): Promise<void>;
}

/** Validates with the kind's create hook, writes the row as `pending`, enqueues its install. */
export async function createResource(kind: ResourceKind, opts: CreateOptions) {
  let data: Record<string, unknown>;
  try {
    data = kind.create(opts.input, { server: opts.server });
  } catch (e) {
    if (e instanceof FieldError) throw fieldError(e.field, e.message);
    throw e;
  }
  await assertParentInstalled(kind, opts.server.id);
  const same = kind.sameAs?.(opts.input);
  // The "same as" check and the insert are one transaction holding a per-server, per-kind
  // advisory lock: two simultaneous creates of the same ufw tuple cannot both pass the check
  // (no unique index can say "same port, protocol and source, NULL source included").
  const row = await db()
    .$transaction(async (tx) => {
      if (same) {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`${kind.type}:${opts.server.id}`}))`;
        if (await resourceTable(kind, tx).findFirst({ where: { ...same.where, serverId: opts.server.id } })) {
          throw fieldError(same.field, same.message);
        }
      }
      const created = await resourceTable(kind, tx).create({
        data: { ...data, ...opts.extra, serverId: opts.server.id, status: "pending" },
      });
      await opts.within?.(tx, created);
      return created;
    })
    .catch((e: unknown) => {
      if (isUniqueViolation(e)) {
        throw new TRPCError({ code: "CONFLICT", message: kind.duplicateMessage?.(opts.input) ?? `This ${kind.label.one} already exists` });
      }
      throw e;
    });
  const op = await enqueueOperation({
    userId: opts.userId,
    serverId: row.serverId,
    title: operationTitle(kind, "install", row),
    resourceType: kind.type,
    resourceId: row.id,
    action: "install",
    previousStatus: null,
    createdResource: true,
  });
  return { row, operationId: op.operationId };
}

export async function startAction(
  kind: ResourceKind,
  opts: {
    userId: string;
    row: ResourceRow;
    action: Action;
    isRetry?: boolean;
    /** Columns written with the status, by the same guarded update (a site's new settings): none land if the action is refused. */
    data?: Record<string, unknown>;
  },
) {
  const { row, action } = opts;
  // "Retry" is what re-running a failed install is; the same mutation starting a provisioning
  // that waits for its first run (or re-running a finished one) is no retry.
  const isRetry = (opts.isRetry ?? false) && row.status === "failed";
  if (isRetry) await assertRetryAllowed(opts.userId);
  if (action === "remove" && kind.type === serverPackage.type) await assertNothingDepends(row);
  const { from, queued } = statusesOf(kind, action);
  const { count } = await resourceTable(kind).updateMany({
    where: { id: row.id, status: { in: [...from] } },
    data: { ...opts.data, status: queued },
  });
  if (count === 0) {
    // Name the status the row has now: `row` was read before this update, and a click that
    // lost the race to another (the same action twice) would otherwise read "while it is active".
    const now = (await resourceTable(kind).findUnique({ where: { id: row.id } }))?.status;
    // Removed meanwhile: still a lost race (a form error), not a page that was never there.
    if (!now) throw new TRPCError({ code: "CONFLICT", message: `This ${kind.label.one} no longer exists` });
    throw new TRPCError({
      code: "CONFLICT",
      message: `Can't ${opts.isRetry ? "retry" : action} while it is ${now}${from.length ? ` (only when ${from.join(" or ")})` : ""}`,
    });
  }
  const op = await enqueueOperation({
    userId: opts.userId,
    serverId: row.serverId,
    title: `${isRetry ? "Retry: " : ""}${operationTitle(kind, action, row)}`,
    resourceType: kind.type,
    resourceId: row.id,
    action,
    previousStatus: row.status,
    createdResource: false,
    isRetry,
  });
  return { id: row.id, ...op };
}

/** Refuses removing a package that something on the server still needs, naming what. */
async function assertNothingDepends(row: ResourceRow): Promise<void> {
  const type = String(row.type);
  const needing = await dependentsOf(row.serverId, type, String(row.variant ?? ""));
  if (needing.length === 0) return;
  const label = packageDefinition(type)?.label ?? type;
  throw new TRPCError({
    code: "PRECONDITION_FAILED",
    message: `Can't remove ${label} (${String(row.name)}): ${needing.join(", ")} still ${needing.length === 1 ? "needs it. Remove it" : "need it. Remove them"} first.`,
  });
}

/** A validation error on one field that only the server can check (shown next to the input). */
export function fieldError(field: string, message: string): TRPCError {
  return new TRPCError({
    code: "BAD_REQUEST",
    message,
    // ZodRealError, not `new ZodError`: zod 4's ZodError is no Error, so tRPC would wrap it in an
    // UnknownCauseError and the formatter would drop the field (the form showed no message).
    cause: new ZodRealError([{ code: "custom", path: [field], message, input: undefined }]),
  });
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && "code" in e && e.code === "P2002";
}
