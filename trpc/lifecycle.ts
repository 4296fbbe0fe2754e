// The shared shape of every resource mutation: check ownership, move the row to the status
// the user should see at once (atomically, so two clicks can't both win), enqueue.
import { TRPCError } from "@trpc/server";
import { z, ZodError } from "zod";
import { ACTION_FROM, type Action, type ResourceType } from "../domain/resources";
import type { TaskStatus } from "../domain/status";
import { db } from "../core/db";
import { assertRetryAllowed, enqueueOperation } from "../core/operations";
import { resourceTable } from "../core/resources";
import { protectedProcedure } from "./init";

/** Status shown from the click until the engine picks the operation up. */
const QUEUED_STATUS: Record<Action, TaskStatus> = {
  install: "pending",
  remove: "removing",
  pause: "updating",
  resume: "updating",
  restart: "updating",
};

export async function assertServerOwned(userId: string, serverId: string): Promise<void> {
  const found = await db().server.count({ where: { id: serverId, userId } });
  if (!found) throw new TRPCError({ code: "NOT_FOUND", message: "Server not found" });
}

export async function ownedResource(userId: string, type: ResourceType, id: string) {
  const row = await resourceTable(type).findUnique({ where: { id } });
  if (!row) throw new TRPCError({ code: "NOT_FOUND", message: "Not found" });
  await assertServerOwned(userId, row.serverId).catch(() => {
    throw new TRPCError({ code: "NOT_FOUND", message: "Not found" });
  });
  return row;
}

/** A freshly created resource (status pending) goes straight to the queue. */
export function enqueueCreated(userId: string, type: ResourceType, row: { id: string; serverId: string }) {
  return enqueueOperation({
    userId,
    serverId: row.serverId,
    resourceType: type,
    resourceId: row.id,
    action: "install",
    previousStatus: null,
    createdResource: true,
  });
}

export async function startAction(userId: string, type: ResourceType, id: string, action: Action, isRetry = false) {
  const row = await ownedResource(userId, type, id);
  if (isRetry) await assertRetryAllowed(userId);
  const from = ACTION_FROM[action];
  const { count } = await resourceTable(type).updateMany({
    where: { id, status: { in: [...from] } },
    data: { status: QUEUED_STATUS[action] },
  });
  if (count === 0) {
    throw new TRPCError({
      code: "CONFLICT",
      message: `Can't ${isRetry ? "retry" : action} while it is ${row.status}${from.length ? ` (only when ${from.join(" or ")})` : ""}`,
    });
  }
  const op = await enqueueOperation({
    userId,
    serverId: row.serverId,
    resourceType: type,
    resourceId: id,
    action,
    previousStatus: row.status,
    createdResource: false,
    isRetry,
  });
  return { id, ...op };
}

const idInput = z.object({ id: z.string().min(1).max(64) });

/** `remove`, `retry`, `pause`, … for one resource type. */
export function actionProcedure(type: ResourceType, action: Action, opts: { retry?: boolean } = {}) {
  return protectedProcedure
    .input(idInput)
    .mutation(({ ctx, input }) => startAction(ctx.user.id, type, input.id, action, opts.retry ?? false));
}

export const serverIdInput = z.object({ serverId: z.string().min(1).max(64) });

/** A validation error on one field that only the server can check (shown next to the input). */
export function fieldError(field: string, message: string): TRPCError {
  return new TRPCError({ code: "BAD_REQUEST", message, cause: new ZodError([{ code: "custom", path: [field], message, input: undefined }]) });
}
