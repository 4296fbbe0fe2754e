// API tokens for internal tools: shown once at creation, stored as sha256, revocable.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { apiTokenCreateSchema } from "../../domain/schemas";
import { newApiToken, tokenRevoked } from "../../core/auth";
import { db } from "../../core/db";
import { protectedProcedure, router } from "../init";

const publicFields = { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true } as const;

export const tokensRouter = router({
  list: protectedProcedure.query(({ ctx }) =>
    db().apiToken.findMany({ where: { userId: ctx.user.id }, select: publicFields, orderBy: { createdAt: "desc" } }),
  ),

  create: protectedProcedure.input(apiTokenCreateSchema).mutation(async ({ ctx, input }) => {
    const { token, hash } = newApiToken();
    const row = await db().apiToken.create({
      data: { userId: ctx.user.id, name: input.name, tokenHash: hash, prefix: token.slice(0, 10) },
      select: publicFields,
    });
    return { ...row, token }; // the only time the token is ever returned
  }),

  revoke: protectedProcedure.input(z.object({ id: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    const { count } = await db().apiToken.updateMany({
      where: { id: input.id, userId: ctx.user.id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    if (count === 0) throw new TRPCError({ code: "NOT_FOUND", message: "Token not found" });
    tokenRevoked(input.id);
    return { id: input.id };
  }),
});
