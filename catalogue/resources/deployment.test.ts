// Deployments: the deploy's milestones, its effects on the site and the pruned rows, retention,
// rollback, and the refusals.
import { describe, expect, it } from "vitest";
import type { Deployment } from "../../generated/prisma/browser";
import { toShell } from "../../activities/ssh/shell";
import { statusesOf, operationTitle, type MilestoneOutcome, type PlanContext, type ResourceKind, type Step } from "../kit";
import {
  clone,
  commitMessage,
  commitSha,
  deleteReleases,
  deployCommand,
  healthCheck,
  logged,
  reloadPhpFpm,
  swap,
} from "../commands/releases";
import { deployment, pruneSelection } from "./deployment";

const D = "/home/brokeforge/deployments/example.com";
const deploy = (id: string, release: string, status = "success", extra: Partial<Deployment> = {}) =>
  ({
    id,
    serverId: "s1",
    siteId: "csite1",
    domain: "example.com",
    release,
    releasePath: `${D}/${release}`,
    branch: "main",
    commitSha: null,
    status,
    errorLog: null,
    ...extra,
  }) as unknown as Deployment;
const site = {
  id: "csite1",
  serverId: "s1",
  domain: "example.com",
  repository: "git@github.com:acme/app.git",
  phpVersion: "8.2",
  deployScript: "# build\ncomposer install \\\n  --no-dev\n\nnpm ci\n",
  sharedPaths: ["storage", ".env"],
  healthCheckPath: null as string | null,
  activeDeploymentId: "d-prev" as string | null,
  keepReleases: 14,
};
const row = deploy("d-new", "20261203-172859", "updating");
const prev = deploy("d-prev", "20261203-100000");
const ctx = (over: Partial<typeof site> = {}, siblings = [row, prev]): PlanContext => ({
  server: { id: "s1", sshPort: 22, sshUser: "root" },
  parent: { ...site, ...over },
  siblings,
});
const sh = (s: { argv: readonly string[] }) => toShell(s.argv);
/** A step of this deploy as planned: its output also appended to the deploy's log, keyed by its place. */
const L = (key: string, s: Step) => sh(logged("example.com", "20261203-172859", key, s));
const at = new Date("2026-12-03T17:30:00Z");
const startedAt = new Date("2026-12-03T17:29:00Z");
const ended = (name: string, state = "failed"): MilestoneOutcome => ({ name, state, exitCode: 1, startedAt, finishedAt: at });

describe("pruneSelection", () => {
  // 20 successes, newest first: s0 (this deploy) … s19.
  const successes = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, status: "success", releasePath: `/r/${i}` }));

  it("keeps the newest 14 successful releases and prunes the rest", () => {
    expect(pruneSelection(successes, { keep: 14, activeId: "s0", rollbackTargetId: "s1" }).map((s) => s.id)).toEqual([
      "s14",
      "s15",
      "s16",
      "s17",
      "s18",
      "s19",
    ]);
  });

  it("never prunes the active deployment or the rollback target, however old", () => {
    expect(pruneSelection(successes, { keep: 14, activeId: "s16", rollbackTargetId: "s19" }).map((s) => s.id)).toEqual([
      "s14",
      "s15",
      "s17",
      "s18",
    ]);
  });

  it("does not count failed, queued or already pruned deployments, and never selects them", () => {
    const mixed = [
      { id: "q", status: "pending", releasePath: "/r/q" },
      ...successes.slice(0, 10),
      { id: "f1", status: "failed", releasePath: "/r/f1" },
      { id: "f2", status: "failed", releasePath: null },
      { id: "gone", status: "success", releasePath: null },
      ...successes.slice(10),
    ];
    expect(pruneSelection(mixed, { keep: 14, activeId: "s0", rollbackTargetId: null }).map((s) => s.id)).toEqual([
      "s14",
      "s15",
      "s16",
      "s17",
      "s18",
      "s19",
    ]);
    expect(pruneSelection(successes.slice(0, 14), { keep: 14, activeId: null, rollbackTargetId: null })).toEqual([]);
  });
});

describe("deploy", () => {
  it("is clone → shared → deploy script → activate → prune, the commit read into the row", () => {
    const plan = deployment.actions.install.plan(row, ctx());
    expect(plan.map((m) => [m.name, m.attempts, m.sets])).toEqual([
      ["clone", undefined, { commitSha: "commit_sha", commitMessage: "commit_message" }],
      ["shared", undefined, undefined],
      ["deploy_script", 1, undefined],
      ["activate", undefined, undefined],
      ["prune", undefined, undefined],
    ]);
    const R = `${D}/20261203-172859`;
    expect(plan[0]!.steps.map(sh)).toEqual([
      L("clone#1", clone("example.com", R, "git@github.com:acme/app.git", "main")),
      L("clone#2", commitSha("example.com", R)),
      L("clone#3", commitMessage("example.com", R)),
    ]);
    // The named outputs stay on their steps (the log's copy passes stdout through).
    expect(plan[0]!.steps.map((x) => x.output)).toEqual([undefined, "commit_sha", "commit_message"]);
    const env = { domain: "example.com", release: "20261203-172859", releasePath: R, commit: "", branch: "main" };
    expect(plan[2]!.steps.map(sh)).toEqual([
      L("deploy_script#1", deployCommand("composer install \\\n  --no-dev", env)),
      L("deploy_script#2", deployCommand("npm ci", env)),
    ]);
    expect(plan[3]!.steps.map(sh)).toEqual([L("activate#1", swap("example.com", R)), L("activate#2", reloadPhpFpm("8.2"))]);
    // Nothing old enough to prune: only the placeholder goes.
    expect(plan[4]!.steps.map(sh)).toEqual([L("prune#1", deleteReleases("example.com", [`${D}/placeholder`]))]);
  });

  it("gives the deploy script the commit once the clone read it; an empty script is one no-op step", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const plan = deployment.actions.install.plan({ ...row, commitSha: sha }, ctx({ deployScript: "# nothing\n" }));
    expect(plan[2]!.steps.map(sh)).toEqual([L("deploy_script#1", { label: "The deploy script is empty", argv: ["true"] })]);
    const withScript = deployment.actions.install.plan({ ...row, commitSha: sha }, ctx());
    expect(sh(withScript[2]!.steps[1]!)).toContain(`'BROKEFORGE_COMMIT=${sha}'`);
  });

  it("checks health after the swap, once, with the way back to the release live before", () => {
    const plan = deployment.actions.install.plan(row, ctx({ healthCheckPath: "/up" }));
    expect(plan.map((m) => m.name)).toEqual(["clone", "shared", "deploy_script", "activate", "health_check", "prune"]);
    expect(plan[4]!.attempts).toBe(1);
    expect(plan[4]!.steps.map(sh)).toEqual([
      L(
        "health_check#1",
        healthCheck({
          domain: "example.com",
          path: "/up",
          previous: `${D}/20261203-100000`,
          previousName: "20261203-100000",
          phpVersion: "8.2",
        }),
      ),
    ]);
    // First deploy: back to the placeholder.
    const first = deployment.actions.install.plan(row, ctx({ healthCheckPath: "/up", activeDeploymentId: null }, [row]));
    expect(sh(first[4]!.steps[0]!)).toContain(` ${D}/placeholder `);
    expect(sh(first[4]!.steps[0]!)).toContain(" 'the placeholder'");
  });

  it("prunes beyond 14 successes (this deploy counts), keeping the rollback target", () => {
    const old = Array.from({ length: 16 }, (_, i) => deploy(`old${i}`, `20261202-${String(100000 + i * 100).padStart(6, "0")}`)).reverse();
    const siblings = [row, ...old]; // newest first: row, old15 … old0
    const plan = deployment.actions.install.plan(row, ctx({ activeDeploymentId: "old0" }, siblings));
    // Kept: row + old15…old3 (14), and old0 (the rollback target). Pruned: old2, old1.
    expect(plan.at(-1)!.steps.map(sh)).toEqual([
      L(
        "prune#1",
        deleteReleases("example.com", [
          `${D}/20261202-100200`,
          `${D}/logs/20261202-100200.log`,
          `${D}/20261202-100100`,
          `${D}/logs/20261202-100100.log`,
          `${D}/placeholder`,
        ]),
      ),
    ]);
    const effects = deployment.actions.install.effects!(
      { row, result: "succeeded", startedAt, at },
      ctx({ activeDeploymentId: "old0" }, siblings),
    );
    expect(effects).toEqual([
      { table: "deployment", id: "d-new", data: { startedAt, finishedAt: at, durationMs: 60_000 } },
      { table: "site", id: "csite1", data: { activeDeploymentId: "d-new", lastDeployedAt: at } },
      { table: "deployment", id: "old2", data: { releasePath: null } },
      { table: "deployment", id: "old1", data: { releasePath: null } },
    ]);
  });

  it("prunes by the site's own keepReleases", () => {
    const old = Array.from({ length: 16 }, (_, i) => deploy(`old${i}`, `20261202-${String(100000 + i * 100).padStart(6, "0")}`)).reverse();
    const effects = deployment.actions.install.effects!(
      { row, result: "succeeded", startedAt, at },
      ctx({ activeDeploymentId: "old0", keepReleases: 12 }, [row, ...old]),
    );
    // Kept: row + old15…old5 (12), and old0 (the rollback target). Pruned: old4…old1.
    expect(effects.filter((u) => u.data.releasePath === null).map((u) => u.id)).toEqual(["old4", "old3", "old2", "old1"]);
  });

  it("on failure: the release dir is gone (cleanup), rolled back only when the health check failed", () => {
    const fx = (milestones: MilestoneOutcome[]) =>
      deployment.actions.install.effects!({ row, result: "failed", error: "x", startedAt, at, milestones }, ctx());
    expect(fx([ended("clone", "succeeded"), ended("shared", "succeeded"), ended("deploy_script")])).toEqual([
      { table: "deployment", id: "d-new", data: { startedAt, finishedAt: at, durationMs: 60_000, releasePath: null, rolledBack: false } },
    ]);
    expect(fx([ended("activate", "succeeded"), ended("health_check")])[0]!.data).toMatchObject({ releasePath: null, rolledBack: true });
    // After a failed activate the swap may have happened: the path stays (the cleanup keeps a live release).
    expect(fx([ended("activate")])[0]!.data).not.toHaveProperty("releasePath");
    expect(deployment.actions.install.cleanup!(row, ctx()).map((m) => m.steps.map(sh))).toEqual([
      [L("cleanup#1", deleteReleases("example.com", [`${D}/20261203-172859`], "Deleting the release unless it is live"))],
    ]);
  });

  it("refuses clearly: the site gone, no repository, hostile values", () => {
    const plan = (d: Deployment, c: PlanContext) => deployment.actions.install.plan(d, c);
    expect(() => plan(row, { ...ctx(), parent: null })).toThrow("The site example.com no longer exists");
    expect(() => plan(row, ctx({ repository: null as unknown as string }))).toThrow(
      "example.com has no repository: set one in the site's settings",
    );
    expect(() => plan(row, ctx({ repository: "--upload-pack=touch /tmp/x" }))).toThrow(/bad repository/);
    expect(() => plan({ ...row, branch: "-x" }, ctx())).toThrow(/bad branch/);
    expect(() => plan({ ...row, releasePath: `${D}/shared` }, ctx())).toThrow(/bad release path/);
    expect(() => plan({ ...row, releasePath: null }, ctx())).toThrow(/is no longer on the server/);
    expect(() => plan(row, ctx({ sharedPaths: ["../x"] }))).toThrow(/bad shared path/);
  });

  it("reads as Deploying and ends success; requires the site's directories", () => {
    expect(statusesOf(deployment, "install")).toMatchObject({ from: [], during: "updating", success: "success" });
    expect(operationTitle(deployment as unknown as ResourceKind, "install", row)).toBe("Deploy example.com (main) as 20261203-172859");
    expect(deployment.actions.install.requires!(row, ctx()).map((c) => c.message)).toEqual([
      "example.com is not on the server yet: create the site first",
    ]);
  });
});

describe("rollback and remove", () => {
  const target = deploy("d-old", "20261203-172859", "success", { commitSha: "abc1234def" });

  it("is one milestone: swap and reload; the site's active deployment follows", () => {
    const plan = deployment.actions.rollback.plan(target, ctx());
    expect(plan.map((m) => m.name)).toEqual(["rollback"]);
    expect(plan[0]!.steps.map(sh)).toEqual([sh(swap("example.com", `${D}/20261203-172859`)), "systemctl reload php8.2-fpm"]);
    expect(operationTitle(deployment as unknown as ResourceKind, "rollback", target)).toBe(
      "Roll back example.com to 20261203-172859 (abc1234)",
    );
    expect(deployment.actions.rollback.requires!(target, ctx())).toEqual([
      {
        kind: "check",
        argv: ["sh", "-c", expect.any(String), "sh", `${D}/20261203-172859`],
        message: "The release 20261203-172859 is no longer on the server",
      },
    ]);
    expect(deployment.actions.rollback.effects!({ row: target, result: "succeeded", startedAt, at }, ctx())).toEqual([
      { table: "site", id: "csite1", data: { activeDeploymentId: "d-old" } },
    ]);
    expect(deployment.actions.rollback.effects!({ row: target, result: "failed", startedAt, at }, ctx())).toEqual([]);
    expect(() => deployment.actions.rollback.plan({ ...target, releasePath: null }, ctx())).toThrow(/no longer on the server/);
  });

  it("a deployment is never removed", () => {
    expect(statusesOf(deployment, "remove").from).toEqual([]);
    expect(deployment.actions.remove.plan(target, ctx())).toEqual([]);
  });
});
