// Firewall rules: each add and each removal is its own operation (seed Rule 4).
import { firewallRuleInputSchema, sshRuleConflict } from "../../domain/firewall";
import { db } from "../../core/db";
import { actionProcedure, assertServerOwned, enqueueCreated, fieldError, serverIdInput } from "../lifecycle";
import { protectedProcedure, router } from "../init";

export const firewallRouter = router({
  list: protectedProcedure.input(serverIdInput).query(async ({ ctx, input }) => {
    await assertServerOwned(ctx.user.id, input.serverId);
    return db().firewallRule.findMany({ where: { serverId: input.serverId }, orderBy: { createdAt: "asc" } });
  }),

  create: protectedProcedure.input(serverIdInput.and(firewallRuleInputSchema)).mutation(async ({ ctx, input }) => {
    const { serverId, ...rule } = input;
    await assertServerOwned(ctx.user.id, serverId);
    const { sshPort } = await db().server.findUniqueOrThrow({ where: { id: serverId }, select: { sshPort: true } });
    const conflict = sshRuleConflict(rule, sshPort);
    if (conflict) throw fieldError("port", conflict);
    const row = await db().firewallRule.create({ data: { serverId, ...rule, source: rule.source || null, status: "pending" } });
    await enqueueCreated(ctx.user.id, "firewall_rule", row);
    return row;
  }),

  remove: actionProcedure("firewall_rule", "remove"),
  retry: actionProcedure("firewall_rule", "install", { retry: true }),
});
