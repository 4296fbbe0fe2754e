// Operations of a server (newest first) with their milestones, and cancellation.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { db } from "../../core/db";
import { temporalUrl } from "../../core/temporal-links";
import { requestCancel } from "../../core/operations";
import { serverProcedure } from "../procedures";
import { protectedProcedure, router } from "../init";

const withLinks = <T extends { workflowId: string | null; runId: string | null }>(op: T) => ({
  ...op,
  temporalUrl: temporalUrl(op.workflowId, op.runId),
});

async function ownedOperation(userId: string, id: string) {
  const op = await db().operation.findFirst({ where: { id, server: { userId } } });
  if (!op) throw new TRPCError({ code: "NOT_FOUND", message: "Operation not found" });
  return op;
}

export const operationsRouter = router({
  list: serverProcedure.input(z.object({ limit: z.number().int().min(1).max(200).default(50) })).query(async ({ ctx, input }) => {
    const ops = await db().operation.findMany({
      where: { serverId: ctx.server.id },
      orderBy: { createdAt: "desc" },
      take: input.limit,
      include: { user: { select: { email: true } } },
    });
    return ops.map(({ user, ...op }) => withLinks({ ...op, by: user?.email ?? null }));
  }),

  byId: protectedProcedure.input(z.object({ id: z.string().min(1).max(64) })).query(async ({ ctx, input }) => {
    const op = await ownedOperation(ctx.user.id, input.id);
    const milestones = await db().operationMilestone.findMany({ where: { operationId: op.id }, orderBy: { step: "asc" } });
    return { ...withLinks(op), milestones };
  }),

  cancel: protectedProcedure.input(z.object({ id: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    const op = await ownedOperation(ctx.user.id, input.id);
    if (op.state !== "queued" && op.state !== "running")
      throw new TRPCError({ code: "CONFLICT", message: `The operation already ${op.state}` });
    if (!op.resourceType || op.kind === "server.test_connection")
      throw new TRPCError({ code: "BAD_REQUEST", message: "This operation can't be cancelled" });
    await requestCancel(op.serverId, op.id);
    return { id: op.id };
  }),
});
