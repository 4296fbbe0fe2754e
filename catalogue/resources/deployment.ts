// Deployments: one row per deploy of a site (the router makes it, pending, with its release name
// and path); its install operation IS the deploy, zero-downtime: the new release is cloned and
// built beside the live one, then the live link is swapped to it in one rename(2). A rollback is
// the same swap to an older release. Rows are never removed: they are the site's audit trail and
// outlive the site itself.
import { z } from "zod";
import type { Deployment, Site } from "../../generated/prisma/browser";
import { KEEP_RELEASES } from "../../domain/sites";
import { files } from "../commands";
import {
  clone,
  commitMessage,
  commitSha,
  deleteReleases,
  deployCommand,
  deployLogPath,
  deployScriptLines,
  ensureShared,
  healthCheck,
  linkShared,
  logged,
  placeholderDir,
  reloadPhpFpm,
  seedDependencies,
  sharedDir,
  swap,
} from "../commands/releases";
import {
  defineResource,
  milestone,
  requireCheck,
  step,
  type Milestone,
  type MilestoneOutcome,
  type Plan,
  type PlanContext,
  type RowUpdate,
  type Step,
} from "../kit";

export const deploymentInputSchema = z.object({ siteId: z.string().min(1) });

export type DeploymentRow = Pick<Deployment, "id" | "siteId" | "domain" | "release" | "releasePath" | "branch" | "commitSha" | "status">;
type SiteFacts = Pick<
  Site,
  "id" | "domain" | "repository" | "phpVersion" | "deployScript" | "sharedPaths" | "healthCheckPath" | "activeDeploymentId" | "keepReleases"
>;
type Sibling = Pick<Deployment, "id" | "status" | "releasePath" | "release">;

/** A deployment that may be pruned: the fields pruneSelection reads. */
export interface PruneCandidate {
  id: string;
  status: string;
  releasePath: string | null;
}

/**
 * The deployments whose release directories go (the seed's retention), from a site's deployments
 * newest first: the newest `keep` successful ones stay, and the active one and the rollback
 * target stay even when older. Only successful deployments with a directory are candidates:
 * failed ones never count toward `keep` (their directory went with the failure), and queued or
 * running ones are nobody's to delete. Used by the deploy's prune and `deployments:prune`.
 */
export function pruneSelection<T extends PruneCandidate>(
  siblings: readonly T[],
  opts: { keep: number; activeId: string | null; rollbackTargetId: string | null },
): T[] {
  const onDisk = siblings.filter((s) => s.status === "success" && s.releasePath);
  return onDisk.slice(Math.max(0, opts.keep)).filter((s) => s.id !== opts.activeId && s.id !== opts.rollbackTargetId);
}

/** The release a rollback would go to now: the newest successful release on disk that is not the live one. */
export function rollbackTargetOf<T extends PruneCandidate>(deployments: readonly T[], activeId: string | null): T | undefined {
  return deployments.find((d) => d.status === "success" && d.releasePath && d.id !== activeId);
}

/**
 * What pruning a site deletes now, from its deployments newest first: pruneSelection with the
 * site's own `keepReleases` (or `keep`), its live release and the release a rollback would go to.
 * The site's "prune" action and `deployments:prune --dry-run` (deployments.prunable) use it.
 */
export function sitePruneSelection<T extends PruneCandidate>(
  deployments: readonly T[],
  site: Pick<Site, "activeDeploymentId" | "keepReleases">,
  keep = site.keepReleases,
): T[] {
  const rollbackTargetId = rollbackTargetOf(deployments, site.activeDeploymentId)?.id ?? null;
  return pruneSelection(deployments, { keep, activeId: site.activeDeploymentId, rollbackTargetId });
}

/**
 * The one step that deletes pruned deployments' releases (the deploy's prune and the site's):
 * deleteReleases checks each path is a release of the site, and never deletes the live one.
 */
export function deletePruned(domain: string, pruned: readonly Sibling[], also: readonly string[] = []): Step {
  return deleteReleases(domain, [...pruned.flatMap((s) => [s.releasePath!, deployLogPath(domain, s.release)]), ...also]);
}

function siteOf(row: DeploymentRow, ctx: PlanContext): SiteFacts {
  const site = ctx.parent as SiteFacts | null | undefined;
  if (!site) throw new Error(`The site ${row.domain} no longer exists`);
  return site;
}

function releasePathOf(row: DeploymentRow): string {
  if (!row.releasePath)
    throw new Error(`The release ${row.release} of ${row.domain} is no longer on the server (it was pruned or its deploy failed)`);
  return row.releasePath;
}

const siblingsOf = (ctx: PlanContext) => (ctx.siblings ?? []) as readonly Sibling[];

/** What this deploy prunes: its own row counts as a success (it is one, once it gets there). */
function pruned(row: DeploymentRow, ctx: PlanContext): Sibling[] {
  const site = siteOf(row, ctx);
  const siblings = siblingsOf(ctx).map((s) => (s.id === row.id ? { ...s, status: "success" as const } : s));
  // The site's own retention; KEEP_RELEASES for a parent row read before the setting existed.
  const keep = site.keepReleases ?? KEEP_RELEASES;
  return pruneSelection(siblings, { keep, activeId: row.id, rollbackTargetId: site.activeDeploymentId });
}

/** The release live before this deploy (the health check's way back): the site's active deployment, or the placeholder. */
function previousRelease(row: DeploymentRow, ctx: PlanContext): { path: string; name: string } {
  const site = siteOf(row, ctx);
  const active = siblingsOf(ctx).find((s) => s.id === site.activeDeploymentId && s.id !== row.id);
  return active?.releasePath
    ? { path: active.releasePath, name: active.release }
    : { path: placeholderDir(row.domain), name: "the placeholder" };
}

export function deployPlan(row: DeploymentRow, ctx: PlanContext): Plan {
  const site = siteOf(row, ctx);
  if (!site.repository) throw new Error(`${site.domain} has no repository: set one in the site's settings`);
  const releasePath = releasePathOf(row);
  const env = { domain: row.domain, release: row.release, releasePath, commit: row.commitSha ?? "", branch: row.branch };
  const commands = deployScriptLines(site.deployScript);
  const previous = previousRelease(row, ctx);
  const plan = [
    milestone(
      "clone",
      `Cloning ${row.branch}`,
      [
        clone(row.domain, releasePath, site.repository, row.branch),
        commitSha(row.domain, releasePath),
        commitMessage(row.domain, releasePath),
      ],
      { sets: { commitSha: "commit_sha", commitMessage: "commit_message" } },
    ),
    milestone("shared", "Linking the shared files", [
      ensureShared(row.domain, site.sharedPaths),
      linkShared(row.domain, releasePath, site.sharedPaths),
      seedDependencies(row.domain, releasePath),
    ]),
    milestone(
      "deploy_script",
      "Running the deploy script",
      commands.length > 0 ? commands.map((c) => deployCommand(c, env)) : [step("The deploy script is empty", "true")],
      // A failed migration or build is the answer; running it again by itself could make it worse.
      { attempts: 1 },
    ),
    milestone("activate", `Making ${row.release} live`, [swap(row.domain, releasePath), reloadPhpFpm(site.phpVersion)]),
    ...(site.healthCheckPath
      ? [
          milestone(
            "health_check",
            `Checking ${site.healthCheckPath}`,
            [
              healthCheck({
                domain: row.domain,
                path: site.healthCheckPath,
                previous: previous.path,
                previousName: previous.name,
                phpVersion: site.phpVersion,
              }),
            ],
            { attempts: 1 },
          ),
        ]
      : []),
    milestone("prune", "Deleting old releases", [deletePruned(row.domain, pruned(row, ctx), [placeholderDir(row.domain)])]),
  ];
  return plan.map((m) => withLog(row, m));
}

/**
 * Every step of a deploy (and of its cleanup) also appends its output to the deploy's log on the
 * server (deployLogPath, beside the releases: it outlives a failed release's directory and goes
 * when the release is pruned), keyed by its place, so a retried milestone's second run is marked.
 */
function withLog(row: DeploymentRow, m: Milestone): Milestone {
  return { ...m, steps: m.steps.map((s, i) => logged(row.domain, row.release, `${m.name}#${i + 1}`, s)) };
}

/** A failed deploy's release directory goes, unless it is live (a failure after the swap). */
export function deployCleanup(row: DeploymentRow): Plan {
  if (!row.releasePath) return [];
  return [
    withLog(
      row,
      milestone("cleanup", `Deleting the release ${row.release}`, [
        deleteReleases(row.domain, [row.releasePath], "Deleting the release unless it is live"),
      ]),
    ),
  ];
}

const durationMs = (startedAt: Date | null, at: Date) => (startedAt ? at.getTime() - startedAt.getTime() : null);
const failedMilestone = (milestones: readonly MilestoneOutcome[] | undefined) => milestones?.find((m) => m.state === "failed")?.name;

export function deployEffects(
  outcome: {
    row: DeploymentRow;
    result: "succeeded" | "failed";
    startedAt: Date | null;
    at: Date;
    milestones?: readonly MilestoneOutcome[];
  },
  ctx: PlanContext,
): RowUpdate[] {
  const { row, result, startedAt, at } = outcome;
  const times = { startedAt, finishedAt: at, durationMs: durationMs(startedAt, at) };
  if (result === "failed") {
    const failed = failedMilestone(outcome.milestones);
    // The cleanup deleted the release directory, except after a failed "activate": the swap may
    // have happened, and the cleanup keeps a live release (so does this row's path).
    const releasePath = failed === "activate" ? {} : { releasePath: null };
    return [{ table: "deployment", id: row.id, data: { ...times, ...releasePath, rolledBack: failed === "health_check" } }];
  }
  const updates: RowUpdate[] = [{ table: "deployment", id: row.id, data: times }];
  if (row.siteId && ctx.parent) {
    updates.push({ table: "site", id: row.siteId, data: { activeDeploymentId: row.id, lastDeployedAt: at } });
    for (const p of pruned(row, ctx)) updates.push({ table: "deployment", id: p.id, data: { releasePath: null } });
  }
  return updates;
}

export function rollbackPlan(row: DeploymentRow, ctx: PlanContext): Plan {
  const site = siteOf(row, ctx);
  const releasePath = releasePathOf(row);
  return [milestone("rollback", `Making ${row.release} live again`, [swap(row.domain, releasePath), reloadPhpFpm(site.phpVersion)])];
}

const shortSha = (row: DeploymentRow) => (row.commitSha ? ` (${row.commitSha.slice(0, 7)})` : "");

export const deployment = defineResource<Deployment>()({
  type: "deployment",
  table: "deployment",
  entity: "deployment",
  api: "deployments",
  parent: "",
  label: { one: "deployment", many: "Deployments" },
  input: deploymentInputSchema,
  fields: [
    { key: "domain", label: "SITE", input: false },
    { key: "release", label: "RELEASE", input: false },
    { key: "branch", label: "BRANCH", input: false },
    { key: "commitSha", label: "COMMIT", input: false },
    { key: "trigger", label: "TRIGGER", input: false },
  ],
  // The router makes the row (release name, path, branch, trigger, user) from the site.
  create: (input) => ({ ...input }),
  describe: (d) => `${d.domain} ${d.release}${shortSha(d)}`,
  related: { parent: { table: "site", key: "siteId" }, siblings: { key: "siteId" } },
  actions: {
    install: {
      label: "Deploy",
      // Not retried: a failed deploy's release directory is gone (releasePath cleared); deploying
      // again makes a new deployment with a new release.
      statuses: { from: [], during: "updating", success: "success" },
      title: (d) => `Deploy ${d.domain} (${d.branch}) as ${d.release}`,
      plan: (d, ctx) => deployPlan(d, ctx),
      requires: (d) => [
        requireCheck(`${d.domain} is not on the server yet: create the site first`, ...files.requireDir(sharedDir(d.domain))),
      ],
      cleanup: (d) => deployCleanup(d),
      effects: (outcome, ctx) => deployEffects(outcome, ctx),
    },
    rollback: {
      label: "Roll back",
      title: (d) => `Roll back ${d.domain} to ${d.release}${shortSha(d)}`,
      plan: (d, ctx) => rollbackPlan(d, ctx),
      requires: (d) => [requireCheck(`The release ${d.release} is no longer on the server`, ...files.requireDir(releasePathOf(d)))],
      effects: ({ row, result }) =>
        result === "succeeded" && row.siteId ? [{ table: "site", id: row.siteId, data: { activeDeploymentId: row.id } }] : [],
    },
    // A deployment is a record: never removed (its release directory goes with pruning).
    remove: { label: "Remove", statuses: { from: [] }, plan: () => [] },
  },
});
