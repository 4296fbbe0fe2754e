// Which plan an operation runs: (resource type, action) → a pure builder over the row.
import type { QueuedOperation } from "../../domain/resources";
import { db } from "../../core/db";
import { ApplicationFailure } from "@temporalio/common";
import { firewallInstallPlan, firewallRuleAddPlan, firewallRuleRemovePlan, firewallUninstallPlan } from "./firewall";
import { schedulerInstallPlan, schedulerUninstallPlan, taskInstallPlan, taskPausePlan, taskRemovePlan, taskResumePlan } from "./scheduler";
import { programInstallPlan, programRemovePlan, programRestartPlan, supervisorInstallPlan, supervisorUninstallPlan } from "./supervisor";
import type { Plan } from "./types";

type Row = Record<string, unknown> & { id: string; serverId: string };

export async function planFor(op: QueuedOperation, row: Row): Promise<Plan> {
  const r = row as never; // the row of op.resourceType, as its builder expects
  switch (`${op.resourceType}.${op.action}`) {
    case "firewall_rule.install":
      return firewallRuleAddPlan(r, { sshPort: await sshPortOf(row.serverId) });
    case "firewall_rule.remove":
      return firewallRuleRemovePlan(r, { sshPort: await sshPortOf(row.serverId) });
    case "scheduled_task.install":
      return taskInstallPlan(r);
    case "scheduled_task.remove":
      return taskRemovePlan(r);
    case "scheduled_task.pause":
      return taskPausePlan(r);
    case "scheduled_task.resume":
      return taskResumePlan(r);
    case "supervisor_program.install":
      return programInstallPlan(r);
    case "supervisor_program.remove":
      return programRemovePlan(r);
    case "supervisor_program.restart":
      return programRestartPlan(r);
    case "package.install":
    case "package.remove":
      return packagePlan(op, row);
  }
  throw ApplicationFailure.nonRetryable(`No plan for ${op.kind}`, "InvalidInput");
}

async function packagePlan(op: QueuedOperation, row: Row): Promise<Plan> {
  const install = op.action === "install";
  switch (row.type) {
    case "firewall":
      return install ? firewallInstallPlan({ sshPort: await sshPortOf(row.serverId) }) : firewallUninstallPlan();
    case "scheduler":
      return install ? schedulerInstallPlan() : schedulerUninstallPlan();
    case "supervisor":
      return install ? supervisorInstallPlan() : supervisorUninstallPlan();
  }
  throw ApplicationFailure.nonRetryable(`Unknown package type ${String(row.type)}`, "InvalidInput");
}

async function sshPortOf(serverId: string): Promise<number> {
  const server = await db().server.findUniqueOrThrow({ where: { id: serverId }, select: { sshPort: true } });
  return server.sshPort;
}
