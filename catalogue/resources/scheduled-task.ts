// Scheduled tasks (cron): one script + one crontab line each; pause removes the line only.
// The crontab builders live with the scheduler package (catalogue/packages/scheduler.ts).
import type { ScheduledTask } from "../../generated/prisma/browser";
import { cronExpressionFor, scheduledTaskInputSchema } from "../../domain/scheduler";
import { defineResource } from "../kit";
import { taskInstallPlan, taskPausePlan, taskRemovePlan, taskResumePlan } from "../packages/scheduler";

export const scheduledTask = defineResource<ScheduledTask>()({
  type: "scheduled_task",
  table: "scheduledTask",
  entity: "scheduled_task",
  api: "scheduler",
  parent: "scheduler",
  label: { one: "scheduled task", many: "Scheduled tasks" },
  input: scheduledTaskInputSchema,
  fields: [
    { key: "name", label: "NAME" },
    { key: "user", label: "USER" },
    { key: "frequency", label: "FREQUENCY" },
    { key: "cron", label: "CRON" },
    { key: "command", label: "COMMAND" },
  ],
  // The row keeps the cron expression itself: the preset's, or the normalised custom one.
  create: (task) => ({ name: task.name, command: task.command, user: task.user, frequency: task.frequency, cron: cronExpressionFor(task) }),
  describe: (t) => `“${t.name}” (${t.cron}, as ${t.user})`,
  actions: {
    install: {
      label: "Install",
      plan: (task) => taskInstallPlan(task),
    },
    remove: { label: "Remove", plan: (task) => taskRemovePlan(task) },
    pause: { label: "Pause", plan: (task) => taskPausePlan(task) },
    resume: { label: "Resume", plan: (task) => taskResumePlan(task) },
  },
});
