// Site commands: two milestones, each run once; the result's columns from sets and effects.
import { describe, expect, it } from "vitest";
import type { SiteCommand } from "../../generated/prisma/browser";
import { toShell } from "../../activities/ssh/shell";
import { statusesOf, type MilestoneOutcome, type PlanContext } from "../kit";
import { commandResult, runCommand, showCommandOutput } from "../commands/releases";
import { siteCommand } from "./site-command";

const row = {
  id: "ccmd1",
  serverId: "s1",
  siteId: "csite1",
  command: "php artisan migrate:status",
  timeoutSeconds: 60,
  status: "pending",
  errorLog: null,
} as unknown as SiteCommand;
const ctx: PlanContext = { server: { id: "s1", sshPort: 22, sshUser: "root" }, parent: { id: "csite1", domain: "example.com" } };
const sh = (s: { argv: readonly string[] }) => toShell(s.argv);
const startedAt = new Date("2026-12-03T17:00:00.000Z");
const at = new Date("2026-12-03T17:00:02.000Z");
const m = (name: string, state: string, exitCode: number | null, ms = 1500): MilestoneOutcome => ({
  name,
  state,
  exitCode,
  startedAt,
  finishedAt: new Date(startedAt.getTime() + ms),
});

describe("site command", () => {
  it("runs in the live release, keeps both streams on the row, then exits with the command's code; each once", () => {
    const plan = siteCommand.actions.install.plan(row, ctx);
    expect(plan.map((x) => [x.name, x.attempts, x.sets])).toEqual([
      ["run_command", 1, { stdout: "stdout", stderr: "stderr" }],
      ["command_result", 1, undefined],
    ]);
    expect(plan[0]!.steps.map(sh)).toEqual([
      sh(runCommand({ id: "ccmd1", domain: "example.com", command: "php artisan migrate:status", timeoutSeconds: 60 })),
      sh(showCommandOutput("ccmd1", "stdout")),
      sh(showCommandOutput("ccmd1", "stderr")),
    ]);
    // The output shows live once: the tails read for the row are kept out of the log.
    expect(plan[0]!.steps.map((s) => s.quiet ?? false)).toEqual([false, true, true]);
    expect(plan[1]!.steps.map(sh)).toEqual([sh(commandResult("ccmd1", 60))]);
    expect(siteCommand.actions.install.requires!(row, ctx)[0]!.message).toBe("example.com has no live release on the server");
  });

  it("records exit code and duration: 0 on success, the command's code when it failed, none when it never ran", () => {
    const fx = (result: "succeeded" | "failed", milestones: MilestoneOutcome[]) =>
      siteCommand.actions.install.effects!({ row, result, startedAt, at, milestones }, ctx);
    expect(fx("succeeded", [m("run_command", "succeeded", 0), m("command_result", "succeeded", 0)])).toEqual([
      { table: "siteCommand", id: "ccmd1", data: { exitCode: 0, durationMs: 1500, startedAt, finishedAt: at } },
    ]);
    expect(fx("failed", [m("run_command", "succeeded", 0, 800), m("command_result", "failed", 124)])[0]!.data).toMatchObject({
      exitCode: 124,
      durationMs: 800,
    });
    expect(fx("failed", [m("run_command", "failed", 1)])[0]!.data).toMatchObject({ exitCode: null, durationMs: null });
  });

  it("ends success, fits an hour-long command, and refuses a command whose site is gone", () => {
    expect(statusesOf(siteCommand, "install")).toMatchObject({ during: "installing", success: "success" });
    expect(siteCommand.actions.install.timeoutScale).toBe(7);
    expect(() => siteCommand.actions.install.plan(row, { ...ctx, parent: null })).toThrow("The site of this command no longer exists");
    expect(siteCommand.actions.remove.plan(row, ctx)).toEqual([]);
  });
});
