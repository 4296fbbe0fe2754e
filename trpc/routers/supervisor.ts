// Supervisor programs: install, remove, restart, retry.
import { supervisorProgramInputSchema } from "../../domain/supervisor";
import { db } from "../../core/db";
import { actionProcedure, assertServerOwned, enqueueCreated, serverIdInput } from "../lifecycle";
import { protectedProcedure, router } from "../init";

export const supervisorRouter = router({
  list: protectedProcedure.input(serverIdInput).query(async ({ ctx, input }) => {
    await assertServerOwned(ctx.user.id, input.serverId);
    return db().supervisorProgram.findMany({ where: { serverId: input.serverId }, orderBy: { createdAt: "asc" } });
  }),

  create: protectedProcedure.input(serverIdInput.and(supervisorProgramInputSchema)).mutation(async ({ ctx, input }) => {
    const { serverId, ...program } = input;
    await assertServerOwned(ctx.user.id, serverId);
    const row = await db().supervisorProgram.create({ data: { serverId, ...program, status: "pending" } });
    await enqueueCreated(ctx.user.id, "supervisor_program", row);
    return row;
  }),

  remove: actionProcedure("supervisor_program", "remove"),
  retry: actionProcedure("supervisor_program", "install", { retry: true }),
  restart: actionProcedure("supervisor_program", "restart"),
});
