// Site commands: a command run once in the site's live release as the site user, with a
// timeout; its exit code, stdout, stderr and duration are kept on the row (the site's command
// history; "re-run" makes a new row).
//
// How the output and the result reach the row, with the engine's plain mechanisms:
//  1. "run_command": a fixed wrapper runs the command with its stdout and stderr copied as they
//     come to the step's own (so the operation's stored output, OperationOutput, shows them live
//     in the site page's LogViewer) and to files under ~brokeforge/.brokeforge/commands/<id>; it
//     exits 0 whatever the command did. What the command leaves running (`cmd &`) is stopped when
//     it ends (it would hold the copies' pipes open). The next two steps print each stream's last
//     4000 bytes (a "[truncated: …]" line first when longer), which the milestone's `sets` store
//     in stdout and stderr; they are quiet (Step.quiet): the log already showed that output;
//  2. "command_result": exits with the command's exit code (the result dir deleted), so a
//     command that fails fails the operation with "The command exited with 2 after 315 ms",
//     or "timed out after 60 s" (124/137, timeout(1)'s codes);
//  3. effects: exitCode from that milestone's exit code (0 on success), durationMs from the
//     run milestone's times (the command's time plus the SSH round trip, ~0.2 s).
// Both milestones run once (attempts 1): a command is never run again by itself.
import type { SiteCommand } from "../../generated/prisma/browser";
import { siteCommandInputSchema } from "../../domain/sites";
import { files } from "../commands";
import { commandResult, liveLink, runCommand, showCommandOutput } from "../commands/releases";
import { defineResource, milestone, requireCheck, type MilestoneOutcome, type Plan, type PlanContext, type RowUpdate } from "../kit";

export type SiteCommandRow = Pick<SiteCommand, "id" | "siteId" | "command" | "timeoutSeconds">;

function domainOf(ctx: PlanContext): string {
  const domain = ctx.parent?.domain;
  if (typeof domain !== "string") throw new Error("The site of this command no longer exists");
  return domain;
}

export function siteCommandPlan(row: SiteCommandRow, ctx: PlanContext): Plan {
  const domain = domainOf(ctx);
  return [
    milestone(
      "run_command",
      "Running the command",
      [
        runCommand({ id: row.id, domain, command: row.command, timeoutSeconds: row.timeoutSeconds }),
        showCommandOutput(row.id, "stdout"),
        showCommandOutput(row.id, "stderr"),
      ],
      { sets: { stdout: "stdout", stderr: "stderr" }, attempts: 1 },
    ),
    milestone("command_result", "Reading the exit code", [commandResult(row.id, row.timeoutSeconds)], { attempts: 1 }),
  ];
}

export function siteCommandEffects(outcome: {
  row: SiteCommandRow;
  result: "succeeded" | "failed";
  startedAt: Date | null;
  at: Date;
  milestones?: readonly MilestoneOutcome[];
}): RowUpdate[] {
  const { row, result, startedAt, at, milestones = [] } = outcome;
  const run = milestones.find((m) => m.name === "run_command");
  const ended = milestones.find((m) => m.name === "command_result");
  const exitCode = result === "succeeded" ? 0 : ended?.state === "failed" ? ended.exitCode : null;
  const durationMs = run?.state === "succeeded" && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null;
  return [{ table: "siteCommand", id: row.id, data: { exitCode, durationMs, startedAt, finishedAt: at } }];
}

const short = (command: string) => (command.length > 40 ? `${command.slice(0, 39)}…` : command);

export const siteCommand = defineResource<SiteCommand>()({
  type: "site_command",
  table: "siteCommand",
  entity: "site_command",
  api: "siteCommands",
  parent: "",
  label: { one: "site command", many: "Site commands" },
  input: siteCommandInputSchema,
  fields: [
    { key: "siteId", label: "SITE", flag: "site-id" },
    { key: "command", label: "COMMAND" },
    { key: "timeoutSeconds", label: "TIMEOUT", flag: "timeout", type: "number" },
    { key: "exitCode", label: "EXIT", input: false },
  ],
  create: (input) => ({ ...input }),
  describe: (c) => `“${short(c.command)}”`,
  related: { parent: { table: "site", key: "siteId" } },
  actions: {
    install: {
      label: "Run",
      statuses: { success: "success" },
      // Up to an hour of command (timeoutSeconds ≤ 3600) must fit the operation's time.
      timeoutScale: 7,
      plan: (c, ctx) => siteCommandPlan(c, ctx),
      requires: (_c, ctx) => [
        requireCheck(`${domainOf(ctx)} has no live release on the server`, ...files.requireDir(liveLink(domainOf(ctx)))),
      ],
      effects: (outcome) => siteCommandEffects(outcome),
    },
    // Deleting a command from the history: nothing on the server.
    remove: { label: "Delete", plan: () => [] },
  },
});
