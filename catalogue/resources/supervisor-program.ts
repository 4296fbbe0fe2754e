// Supervisor programs (daemons, queue workers): one config file each, verified RUNNING.
// The config template and supervisorctl steps live with the supervisor package.
import type { SupervisorProgram } from "../../generated/prisma/browser";
import { supervisorProgramInputSchema } from "../../domain/supervisor";
import { files, users } from "../commands";
import { defineResource, requireCheck } from "../kit";
import { programInstallPlan, programRemovePlan, programRestartPlan } from "../packages/supervisor";

export const supervisorProgram = defineResource<SupervisorProgram>()({
  type: "supervisor_program",
  table: "supervisorProgram",
  entity: "supervisor_program",
  api: "supervisor",
  parent: "supervisor",
  label: { one: "supervisor program", many: "Supervisor programs" },
  input: supervisorProgramInputSchema,
  fields: [
    { key: "name", label: "NAME" },
    { key: "user", label: "USER" },
    { key: "numprocs", label: "PROCESSES", type: "number" },
    { key: "directory", label: "DIRECTORY" },
    { key: "autostart", label: "AUTOSTART", type: "boolean" },
    { key: "autorestart", label: "AUTORESTART", type: "boolean" },
    { key: "command", label: "COMMAND" },
  ],
  create: (program) => ({ ...program }),
  describe: (p) => `“${p.name}” (${p.numprocs} × ${p.command.length > 40 ? `${p.command.slice(0, 39)}…` : p.command})`,
  actions: {
    install: {
      label: "Install",
      plan: (program) => programInstallPlan(program),
      // A program in a directory that isn't there (e.g. /home/brokeforge on a server that was
      // never provisioned) would fail three times in a row; say so once, before anything runs.
      requires: (program) => [
        requireCheck(`The user ${program.user} does not exist on the server`, ...users.exists(program.user)),
        requireCheck(`The directory ${program.directory} does not exist on the server`, ...files.requireDir(program.directory)),
      ],
    },
    remove: { label: "Remove", plan: (program) => programRemovePlan(program) },
    restart: { label: "Restart", plan: (program) => programRestartPlan(program) },
  },
});
