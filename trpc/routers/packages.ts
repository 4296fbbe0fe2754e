// Server-level packages (ufw, cron, supervisor): install, remove, retry, and the inventory.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { PACKAGE_TYPES } from "../../domain/resources";
import { db } from "../../core/db";
import { actionProcedure, assertServerOwned, enqueueCreated, serverIdInput } from "../lifecycle";
import { protectedProcedure, router } from "../init";

const PACKAGE_NAMES = { firewall: "ufw", scheduler: "cron", supervisor: "supervisor" } as const;

export const packagesRouter = router({
  list: protectedProcedure.input(serverIdInput).query(async ({ ctx, input }) => {
    await assertServerOwned(ctx.user.id, input.serverId);
    return db().serverPackage.findMany({ where: { serverId: input.serverId }, orderBy: { createdAt: "asc" } });
  }),

  install: protectedProcedure
    .input(serverIdInput.extend({ type: z.enum(PACKAGE_TYPES, { message: "Choose firewall, scheduler or supervisor" }) }))
    .mutation(async ({ ctx, input }) => {
      await assertServerOwned(ctx.user.id, input.serverId);
      const row = await db()
        .serverPackage.create({
          data: { serverId: input.serverId, type: input.type, name: PACKAGE_NAMES[input.type], status: "pending" },
        })
        .catch((e) => {
          if ((e as { code?: string }).code === "P2002")
            throw new TRPCError({ code: "CONFLICT", message: `${PACKAGE_NAMES[input.type]} is already installed or installing` });
          throw e;
        });
      return { id: row.id, ...(await enqueueCreated(ctx.user.id, "package", row)) };
    }),

  remove: actionProcedure("package", "remove"),
  retry: actionProcedure("package", "install", { retry: true }),
});
