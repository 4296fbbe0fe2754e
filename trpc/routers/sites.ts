// Sites, their deployments and their commands: the typed API behind the site pages, the CLI and
// the deploy hook. The kinds (catalogue/resources/site.ts, deployment.ts, site-command.ts) own
// what runs on the server; this file owns who may start what, and the rows the runs act on.
//
// Secrets here: the site's .env (ServerSecret `site.env_<siteId>`, shown only by `sites.env`),
// the deploy token (sha256 to look it up, encrypted to show its URL to the owner again) and the
// webhook secret (encrypted, never shown back). No list or detail response carries any of them
// except the owner's own hook URL.
import { randomBytes } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { operationTitle, type ResourceKind } from "../../catalogue/kit";
import { sitePruneSelection } from "../../catalogue/resources/deployment";
import { deployLogPath } from "../../catalogue/commands/releases";
import { envSecretName } from "../../catalogue/resources/site";
import { decryptSecret, encryptSecret, sha256 } from "../../core/crypto";
import { db } from "../../core/db";
import { webEnv } from "../../core/env";
import { dispatchOperation, recordOperation } from "../../core/operations";
import { kindOf } from "../../core/resources";
import { revealSecret, secretAad } from "../../core/secrets";
import {
  branchSchema,
  DEPLOY_TRIGGERS,
  DEPLOYMENTS_HOME,
  deployScriptSchema,
  envSchema,
  healthCheckPathSchema,
  keepReleasesSchema,
  phpVersionSchema,
  relativePathSchema,
  releaseName,
  repositorySchema,
  siteCommandInputSchema,
  siteInputSchema,
  siteSettingsSchema,
  type DeployTrigger,
} from "../../domain/sites";
import type { Site } from "../../generated/prisma/browser";
import { protectedProcedure, router } from "../init";
import { createResource, fieldError, startAction } from "../lifecycle";
import { idInput, ownedRowProcedure, ownedServer, serverProcedure, serverProcedureWith } from "../procedures";

// The kinds are looked up by type when a procedure runs: the catalogue registers them, and
// this router needs nothing of them at import time.
const siteKind = (): ResourceKind => kindOf("site");
const deploymentKind = (): ResourceKind => kindOf("deployment");
const siteCommandKind = (): ResourceKind => kindOf("site_command");

/** Deployments per page of `sites.byId`. */
export const DEPLOYMENTS_PAGE = 50;

const deployTokenAad = (siteId: string) => `site:${siteId}:deploy_token`;
const webhookSecretAad = (siteId: string) => `site:${siteId}:webhook_secret`;

const notFound = (message = "Site not found") => new TRPCError({ code: "NOT_FOUND", message });

/** A row id like Prisma's cuids (lower-case letters and digits), made here so the token's AAD and the .env secret's name can name the site before its row exists. */
function newSiteId(): string {
  return `c${BigInt(`0x${randomBytes(16).toString("hex")}`)
    .toString(36)
    .padStart(25, "0")
    .slice(0, 24)}`;
}

/** A deploy token: 32 random bytes, base64url. Only its sha256 and an encrypted copy are stored. */
function newDeployToken(siteId: string) {
  const token = randomBytes(32).toString("base64url");
  return { token, columns: { deployTokenHash: sha256(token), deployTokenEncrypted: encryptSecret(token, deployTokenAad(siteId)) } };
}

export function deployHookUrl(site: Pick<Site, "id" | "deployTokenEncrypted">): string {
  return `${webEnv().PUBLIC_URL.replace(/\/$/, "")}/hooks/deploy/${decryptSecret(site.deployTokenEncrypted, deployTokenAad(site.id))}`;
}

/** The webhook secret in clear, or null: for the hook's signature check only. */
export function webhookSecretOf(site: Pick<Site, "id" | "webhookSecretEncrypted">): string | null {
  return site.webhookSecretEncrypted ? decryptSecret(site.webhookSecretEncrypted, webhookSecretAad(site.id)) : null;
}

/** A site as responses show it: no .env, no token, no webhook secret (only whether there is one). */
export function publicSite(site: Site) {
  const { envEncrypted: _env, deployTokenHash: _hash, deployTokenEncrypted: _token, webhookSecretEncrypted: secret, ...rest } = site;
  return { ...rest, hasWebhookSecret: secret !== null, envOnServer: site.envWrittenVersion >= site.envVersion };
}

/**
 * The caller's site, deployment or command by `id` (or the site by `siteId`): `ctx.row`, typed.
 * Ownership is checked in the middleware (trpc/procedures.ts), once, for every procedure here.
 */
const siteProcedure = ownedRowProcedure("Site", (where) => db().site.findFirst({ where }));
const siteByIdOf = <K extends string>(key: K) => ownedRowProcedure("Site", (where) => db().site.findFirst({ where }), key);
const deploymentProcedure = ownedRowProcedure("Deployment", (where) => db().deployment.findFirst({ where }));
const commandProcedure = ownedRowProcedure("Command", (where) => db().siteCommand.findFirst({ where }));

/** Refuses (on the field) a PHP version that is not an installed PHP package of the server. */
async function assertPhpInstalled(serverId: string, phpVersion: string): Promise<void> {
  const installed = await db().serverPackage.findMany({
    where: { serverId, type: "php", status: "active" },
    select: { variant: true },
    orderBy: { variant: "desc" },
  });
  if (installed.some((p) => p.variant === phpVersion)) return;
  const have = installed.map((p) => p.variant).filter(Boolean);
  throw fieldError(
    "phpVersion",
    have.length
      ? `PHP ${phpVersion} is not installed on this server (installed: ${have.join(", ")})`
      : `PHP ${phpVersion} is not installed on this server: install PHP first`,
  );
}

/** Sites with what lists show of their last deploy (active release's sha and when). */
async function withActiveDeployment<S extends Site>(sites: S[]) {
  const ids = sites.map((s) => s.activeDeploymentId).filter((id): id is string => id !== null);
  const active = ids.length
    ? await db().deployment.findMany({ where: { id: { in: ids } }, select: { id: true, commitSha: true, release: true, branch: true } })
    : [];
  const byId = new Map(active.map((d) => [d.id, d]));
  return sites.map((site) => {
    const deployment = site.activeDeploymentId ? byId.get(site.activeDeploymentId) : undefined;
    return { site, activeSha: deployment?.commitSha ?? null, activeRelease: deployment?.release ?? null };
  });
}

function triggerOf(principal: { via: { kind: string } }, asked: DeployTrigger | undefined): DeployTrigger {
  if (asked === "cli") return "cli";
  return principal.via.kind === "token" ? "api" : "ui";
}

function isUniqueViolation(e: unknown): boolean {
  return typeof e === "object" && e !== null && "code" in e && e.code === "P2002";
}

/**
 * Starts a deploy of `site`, or joins the one already queued for it. The check for a queued
 * deploy, the new deployment row and its operation row are one transaction under a per-site
 * advisory lock: two clicks (or a click and a push) at once make one deployment. The operation
 * goes to the server's queue after the commit, so the worker never sees it before its row.
 */
export async function startDeploy(
  site: Site,
  opts: { userId: string | null; operationUserId: string; trigger: DeployTrigger },
): Promise<{ deploymentId: string; operationId: string; collapsed: boolean }> {
  if (!site.repository) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "This site has no repository to deploy: set one in the site's settings first",
    });
  }
  if (site.status === "removing") throw new TRPCError({ code: "CONFLICT", message: "This site is being removed" });
  const kind = deploymentKind();
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await db().$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`deploy:${site.id}`}))`;
        // Queued and not started: a deploy now would ship the same branch head, so join it.
        const queued = await tx.deployment.findFirst({ where: { siteId: site.id, status: "pending" }, orderBy: { createdAt: "desc" } });
        if (queued) {
          const op = await tx.operation.findFirst({
            where: { resourceType: kind.type, resourceId: queued.id, action: "install", state: "queued" },
            orderBy: { createdAt: "desc" },
          });
          if (op) return { deploymentId: queued.id, operationId: op.id, collapsed: true, recorded: null };
        }
        const now = new Date();
        // Releases of this second so far: the next gets "-2", "-3"… (names sort by time).
        const sameSecond = await tx.deployment.count({ where: { siteId: site.id, release: { startsWith: releaseName(now) } } });
        const release = releaseName(now, sameSecond + attempt);
        const deployment = await tx.deployment.create({
          data: {
            serverId: site.serverId,
            siteId: site.id,
            domain: site.domain,
            release,
            releasePath: `${DEPLOYMENTS_HOME}/${site.domain}/${release}`,
            branch: site.branch,
            trigger: opts.trigger,
            userId: opts.userId,
            status: "pending",
          },
        });
        const recorded = await recordOperation(
          {
            userId: opts.operationUserId,
            serverId: site.serverId,
            title: operationTitle(kind, "install", deployment),
            resourceType: kind.type,
            resourceId: deployment.id,
            action: "install",
            previousStatus: null,
            createdResource: true,
          },
          tx,
        );
        return { deploymentId: deployment.id, operationId: recorded.operationId, collapsed: false, recorded };
      });
      if (result.recorded) await dispatchOperation(result.recorded);
      return { deploymentId: result.deploymentId, operationId: result.operationId, collapsed: result.collapsed };
    } catch (e) {
      // (siteId, release) taken by a row the count did not see: the next suffix.
      if (isUniqueViolation(e) && attempt < 5) continue;
      throw e;
    }
  }
}

/** Writes the site's .env secret (created or replaced), bound to (server, name) like every server secret. */
async function writeEnv(client: Pick<ReturnType<typeof db>, "serverSecret">, serverId: string, siteId: string, env: string) {
  const name = envSecretName(siteId);
  const valueEncrypted = encryptSecret(env, secretAad(serverId, name));
  await client.serverSecret.upsert({
    where: { serverId_name: { serverId, name } },
    create: { serverId, name, valueEncrypted },
    update: { valueEncrypted },
  });
}

/** Runs the site's update when its status allows it now; null when it is busy (the next update or install writes the change). */
async function queueUpdate(userId: string, siteId: string, data?: Record<string, unknown>) {
  const row = await db().site.findUnique({ where: { id: siteId } });
  if (!row) throw notFound();
  return startAction(siteKind(), { userId, row, action: "update", ...(data ? { data } : {}) });
}

// Settings as the settings form sends them: only the fields present change (siteSettingsSchema's
// defaults would reset the script and shared paths of a request that only names aliases).
// "" or null clears the repository and the health check.
const clearable = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? null : v), schema.nullable()).optional();
const siteUpdateSchema = z.object({
  id: z.string().min(1).max(64),
  aliases: siteInputSchema.shape.aliases.unwrap().optional(),
  phpVersion: phpVersionSchema.optional(),
  webDirectory: relativePathSchema("Web directory").optional(),
  repository: clearable(repositorySchema),
  branch: branchSchema.optional(),
  deployScript: deployScriptSchema.optional(),
  sharedPaths: siteInputSchema.shape.sharedPaths.unwrap().optional(),
  healthCheckPath: clearable(healthCheckPathSchema),
  keepReleases: siteSettingsSchema.shape.keepReleases,
});

/**
 * DEPLOYMENTS_PAGE deployments of a site, newest first, after the deployment `cursor` (the last
 * of the page before), and the cursor of the page after this one (null: this is the oldest).
 * A cursor of another site's deployment (or none that exists) gives nothing of that site's.
 */
async function deploymentPage(siteId: string, cursor: string | undefined) {
  const rows = await db().deployment.findMany({
    where: { siteId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: DEPLOYMENTS_PAGE + 1,
    ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
  });
  return {
    deployments: rows.slice(0, DEPLOYMENTS_PAGE),
    nextCursor: rows.length > DEPLOYMENTS_PAGE ? rows[DEPLOYMENTS_PAGE - 1]!.id : null,
  };
}

const deployInput = idInput.extend({ trigger: z.enum(DEPLOY_TRIGGERS).exclude(["hook"]).optional() });
const cursorInput = idInput.extend({ cursor: z.string().min(1).max(64).optional() });

export const sitesRouter = router({
  /** The server's sites with their last deploy. */
  list: serverProcedure.query(async ({ ctx }) => {
    const sites = await db().site.findMany({ where: { serverId: ctx.server.id }, orderBy: { createdAt: "asc" } });
    return (await withActiveDeployment(sites)).map(({ site, ...active }) => ({ ...publicSite(site), ...active }));
  }),

  /** Every site of the user (the dashboard): server name, status, last deploy, active sha. */
  all: protectedProcedure.query(async ({ ctx }) => {
    const sites = await db().site.findMany({
      where: { server: { userId: ctx.user.id } },
      include: { server: { select: { name: true } } },
      orderBy: [{ domain: "asc" }, { createdAt: "asc" }],
    });
    return (await withActiveDeployment(sites)).map(({ site: { server, ...site }, ...active }) => ({
      ...publicSite(site),
      serverName: server.name,
      ...active,
    }));
  }),

  /**
   * One site: its deployments newest first (50 a page; `cursor` = the last id of the page before),
   * the active one, the rollback candidates (successful, release still on disk, not active), the
   * deploy hook URL and the site user's public deploy key.
   */
  byId: siteProcedure.input(cursorInput).query(async ({ ctx, input }) => {
    const site = ctx.row;
    const [page, active, rollbackCandidates, siteUser, server] = await Promise.all([
      deploymentPage(site.id, input.cursor),
      site.activeDeploymentId ? db().deployment.findUnique({ where: { id: site.activeDeploymentId } }) : null,
      db().deployment.findMany({
        where: {
          siteId: site.id,
          status: "success",
          releasePath: { not: null },
          ...(site.activeDeploymentId ? { id: { not: site.activeDeploymentId } } : {}),
        },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      }),
      db().serverPackage.findFirst({ where: { serverId: site.serverId, type: "site_user" }, select: { configuration: true } }),
      db().server.findUniqueOrThrow({ where: { id: site.serverId }, select: { id: true, name: true } }),
    ]);
    const configuration = siteUser?.configuration;
    const deployKey =
      configuration && typeof configuration === "object" && !Array.isArray(configuration) && typeof configuration.deployKey === "string"
        ? configuration.deployKey
        : null;
    return {
      site: publicSite(site),
      server,
      ...page,
      activeDeployment: active,
      rollbackCandidates,
      deployHookUrl: deployHookUrl(site),
      deployKey,
    };
  }),

  /**
   * A page of the site's deployments, newest first, from `cursor` on (the `nextCursor` of the
   * page before; none = the newest page): the site page's "Older deployments".
   */
  deployments: siteProcedure.input(cursorInput).query(async ({ ctx, input }) => {
    const site = ctx.row;
    return deploymentPage(site.id, input.cursor);
  }),

  /**
   * A new site: PHP must be installed on the server and the domain free there. The row, its
   * deploy token and its (empty) .env secret land together; the install is queued, and with a
   * repository the first deploy right behind it on the server's queue.
   */
  create: serverProcedureWith(siteInputSchema).mutation(async ({ ctx, input }) => {
    await assertPhpInstalled(ctx.server.id, input.phpVersion);
    if (await db().site.findFirst({ where: { serverId: ctx.server.id, domain: input.domain }, select: { id: true } })) {
      throw fieldError("domain", `${input.domain} is already a site on this server`);
    }
    const id = newSiteId();
    const { columns } = newDeployToken(id);
    const { serverId: _serverId, ...siteInput } = input;
    const { row, operationId } = await createResource(siteKind(), {
      userId: ctx.user.id,
      server: ctx.server,
      input: siteInput,
      extra: { id, ...columns },
      within: (tx) => writeEnv(tx, ctx.server.id, id, ""),
    });
    const site = await db().site.findUniqueOrThrow({ where: { id: row.id } });
    const firstDeploy = site.repository
      ? await startDeploy(site, { userId: ctx.user.id, operationUserId: ctx.user.id, trigger: triggerOf(ctx.principal, undefined) })
      : null;
    return { ...publicSite(site), operationId, firstDeploy };
  }),

  /** Retry a site whose install failed. */
  retry: siteProcedure.mutation(({ ctx }) =>
    startAction(siteKind(), { userId: ctx.user.id, row: ctx.row, action: "install", isRetry: true }),
  ),

  /** Removes the site (server block, then files); refused unless `confirmDomain` is its domain. Deployments stay, for audit. */
  remove: siteProcedure.input(z.object({ confirmDomain: z.string().max(253) })).mutation(async ({ ctx, input }) => {
    const site = ctx.row;
    if (input.confirmDomain.trim().toLowerCase() !== site.domain) {
      throw fieldError("confirmDomain", `Type ${site.domain} to confirm removing this site`);
    }
    return startAction(siteKind(), { userId: ctx.user.id, row: site, action: "remove" });
  }),

  /** The site's .env in clear, for its owner's editor. A mutation, so nothing caches or prefetches it. */
  env: siteProcedure.mutation(async ({ ctx }) => {
    const site = ctx.row;
    return { env: (await revealSecret(site.serverId, envSecretName(site.id))) ?? "", envVersion: site.envVersion };
  }),

  /**
   * Saves the .env (encrypted) and queues the site's update, which writes it to the server; the
   * next deploy links it. While the site is busy (installing, updating) the save stands and
   * `operationId` is null: the running operation may not carry it, `envOnServer` says when it has.
   */
  setEnv: siteProcedure.input(z.object({ env: envSchema })).mutation(async ({ ctx, input }) => {
    const site = ctx.row;
    const { envVersion } = await db().$transaction(async (tx) => {
      await writeEnv(tx, site.serverId, site.id, input.env);
      return tx.site.update({ where: { id: site.id }, data: { envVersion: { increment: 1 } }, select: { envVersion: true } });
    });
    const operationId = await queueUpdate(ctx.user.id, site.id).then(
      (op) => op.operationId,
      (e: unknown) => {
        if (e instanceof TRPCError && e.code === "CONFLICT") return null;
        throw e;
      },
    );
    return { id: site.id, envVersion, operationId };
  }),

  /** Changes settings (only the fields given) and queues the update that applies them; refused while the site is busy. */
  update: siteProcedure.input(siteUpdateSchema).mutation(async ({ ctx, input }) => {
    const site = ctx.row;
    const { id: _id, ...settings } = input;
    if (settings.phpVersion && settings.phpVersion !== site.phpVersion) await assertPhpInstalled(site.serverId, settings.phpVersion);
    const data = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
    return queueUpdate(ctx.user.id, site.id, data);
  }),

  /** Deploys the branch head; joins a deploy of the site that is queued and not started yet. */
  deploy: siteProcedure.input(deployInput).mutation(async ({ ctx, input }) => {
    const site = ctx.row;
    return startDeploy(site, { userId: ctx.user.id, operationUserId: ctx.user.id, trigger: triggerOf(ctx.principal, input.trigger) });
  }),

  /**
   * Deletes the release directories beyond the site's retention now (the site's "prune" action,
   * on the server's queue): the live release and the rollback target stay, the deployments'
   * records stay with their paths cleared. `keep`, when given, becomes the site's keepReleases
   * first (the deploys' retention from then on); both are refused together while the site is busy.
   */
  prune: siteProcedure.input(z.object({ keep: keepReleasesSchema.optional() })).mutation(async ({ ctx, input }) => {
    const site = ctx.row;
    const keep = input.keep ?? site.keepReleases;
    return startAction(siteKind(), {
      userId: ctx.user.id,
      row: { ...site, keepReleases: keep },
      action: "prune",
      ...(input.keep !== undefined ? { data: { keepReleases: input.keep } } : {}),
    });
  }),

  /** A new deploy URL; the old one stops working at once. */
  regenerateDeployToken: siteProcedure.mutation(async ({ ctx }) => {
    const site = ctx.row;
    const { columns } = newDeployToken(site.id);
    const updated = await db().site.update({ where: { id: site.id }, data: columns });
    return { id: site.id, deployHookUrl: deployHookUrl(updated) };
  }),

  /** Sets (or with null clears) the secret push webhooks must sign with (GitHub HMAC, GitLab token). */
  setWebhookSecret: siteProcedure
    .input(
      z.object({
        secret: z
          .string()
          .min(16, "The webhook secret must be at least 16 characters")
          .max(256, "The webhook secret must be at most 256 characters")
          .refine((v) => /^[\x21-\x7e]+$/.test(v), "The webhook secret must be printable ASCII without spaces")
          .nullable(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const site = ctx.row;
      await db().site.update({
        where: { id: site.id },
        data: { webhookSecretEncrypted: input.secret === null ? null : encryptSecret(input.secret, webhookSecretAad(site.id)) },
      });
      return { id: site.id, hasWebhookSecret: input.secret !== null };
    }),
});

/**
 * The release directories retention would delete now, per site of the user (or one site): the
 * site's prune action's own rule (catalogue sitePruneSelection): the newest `keep` successful
 * releases stay (each site's keepReleases when `keep` is not given), and so do the live one and
 * the one a rollback would go to (the newest other release on disk).
 */
async function prunable(userId: string, opts: { siteId?: string; keep?: number }) {
  const sites = await db().site.findMany({
    where: { server: { userId }, ...(opts.siteId ? { id: opts.siteId } : {}) },
    select: { id: true, domain: true, serverId: true, activeDeploymentId: true, keepReleases: true, status: true },
    orderBy: { domain: "asc" },
  });
  if (opts.siteId && sites.length === 0) throw notFound();
  return Promise.all(
    sites.map(async (site) => {
      const deployments = await db().deployment.findMany({
        where: { siteId: site.id },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        select: { id: true, release: true, releasePath: true, status: true, createdAt: true },
      });
      const keep = opts.keep ?? site.keepReleases;
      const doomed = sitePruneSelection(deployments, site, keep);
      return {
        siteId: site.id,
        domain: site.domain,
        serverId: site.serverId,
        status: site.status,
        keep,
        releases: doomed.map(({ status: _s, ...d }) => d),
      };
    }),
  );
}

export const deploymentsRouter = router({
  /** What `deployments:prune --dry-run` lists: nothing is deleted. */
  prunable: protectedProcedure
    .input(z.object({ siteId: z.string().min(1).max(64).optional(), keep: z.number().int().min(1).max(1000).optional() }))
    .query(({ ctx, input }) => prunable(ctx.user.id, input)),

  /** A deployment with the operations that acted on it (the deploy's is `operationId`: its log). */
  byId: deploymentProcedure.query(async ({ ctx }) => {
    const deployment = ctx.row;
    const operations = await db().operation.findMany({
      where: { resourceType: deploymentKind().type, resourceId: deployment.id },
      orderBy: { createdAt: "asc" },
      select: { id: true, action: true, state: true, createdAt: true, startedAt: true, finishedAt: true },
    });
    const operationId = operations.find((o) => o.action === "install")?.id ?? null;
    // The whole log on the server, until the release is pruned (a failed deploy's stays) or the site removed.
    const pruned = deployment.status === "success" && !deployment.releasePath;
    const logPath = deployment.siteId && !pruned ? deployLogPath(deployment.domain, deployment.release) : null;
    return { ...deployment, operationId, operations, logPath };
  }),

  /** Makes this release the live one again: a successful deploy whose directory still exists, not the active one. */
  rollback: deploymentProcedure.mutation(async ({ ctx }) => {
    const deployment = ctx.row;
    const site = deployment.siteId ? await db().site.findUnique({ where: { id: deployment.siteId } }) : null;
    if (!site) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "This deployment's site no longer exists" });
    if (deployment.status !== "success") {
      throw new TRPCError({
        code: "PRECONDITION_FAILED",
        message: `Only a successful deploy can be rolled back to (this one is ${deployment.status})`,
      });
    }
    if (deployment.releasePath === null) {
      throw new TRPCError({ code: "PRECONDITION_FAILED", message: `Release ${deployment.release} was pruned: its directory is gone` });
    }
    if (site.activeDeploymentId === deployment.id) {
      throw new TRPCError({ code: "CONFLICT", message: `Release ${deployment.release} is already the live one` });
    }
    return startAction(deploymentKind(), { userId: ctx.user.id, row: deployment, action: "rollback" });
  }),
});

/** The site's commands, newest first (at most this many). */
const COMMAND_HISTORY = 100;

async function runCommand(userId: string, site: Site, input: { command: string; timeoutSeconds: number }) {
  if (!site.activeDeploymentId) {
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "Deploy the site first: commands run in its current release" });
  }
  const { row, operationId } = await createResource(siteCommandKind(), {
    userId,
    server: await ownedServer(userId, site.serverId),
    input: { siteId: site.id, command: input.command, timeoutSeconds: input.timeoutSeconds },
    extra: { userId },
  });
  return { id: row.id, operationId };
}

export const siteCommandsRouter = router({
  /** Runs a command in the site's current release as the site user, with a timeout. */
  run: siteByIdOf("siteId")
    .input(siteCommandInputSchema)
    .mutation(({ ctx, input }) => runCommand(ctx.user.id, ctx.row, input)),

  /** The site's command history, newest first. */
  list: siteByIdOf("siteId").query(async ({ ctx }) => {
    const site = ctx.row;
    const commands = await db().siteCommand.findMany({
      where: { siteId: site.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: COMMAND_HISTORY,
    });
    // Each command's run (its output, live while it runs: the page's LogViewer follows it).
    const runs = await db().operation.findMany({
      where: { resourceType: siteCommandKind().type, action: "install", resourceId: { in: commands.map((c) => c.id) } },
      select: { id: true, resourceId: true },
    });
    const operationOf = new Map(runs.map((o) => [o.resourceId, o.id]));
    return commands.map((c) => ({ ...c, operationId: operationOf.get(c.id) ?? null }));
  }),

  /** Runs a command of the history again (a new entry). */
  rerun: commandProcedure.mutation(async ({ ctx }) => {
    const previous = ctx.row;
    // A command's site is on the command's server: the caller's, as the middleware checked.
    const site = await db().site.findUniqueOrThrow({ where: { id: previous.siteId } });
    return runCommand(ctx.user.id, site, previous);
  }),
});
