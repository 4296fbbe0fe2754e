// Scheduled tasks (cron): install, remove, pause/resume, retry.
import { cronExpressionFor, scheduledTaskInputSchema } from "../../domain/scheduler";
import { db } from "../../core/db";
import { actionProcedure, assertServerOwned, enqueueCreated, serverIdInput } from "../lifecycle";
import { protectedProcedure, router } from "../init";

export const schedulerRouter = router({
  list: protectedProcedure.input(serverIdInput).query(async ({ ctx, input }) => {
    await assertServerOwned(ctx.user.id, input.serverId);
    return db().scheduledTask.findMany({ where: { serverId: input.serverId }, orderBy: { createdAt: "asc" } });
  }),

  create: protectedProcedure.input(serverIdInput.and(scheduledTaskInputSchema)).mutation(async ({ ctx, input }) => {
    const { serverId, name, command, user, frequency } = input;
    await assertServerOwned(ctx.user.id, serverId);
    const row = await db().scheduledTask.create({
      data: { serverId, name, command, user, frequency, cron: cronExpressionFor(input), status: "pending" },
    });
    await enqueueCreated(ctx.user.id, "scheduled_task", row);
    return row;
  }),

  remove: actionProcedure("scheduled_task", "remove"),
  retry: actionProcedure("scheduled_task", "install", { retry: true }),
  pause: actionProcedure("scheduled_task", "pause"),
  resume: actionProcedure("scheduled_task", "resume"),
});
