// Sites: a domain served by nginx from /home/brokeforge/<domain> (the live link to a release),
// PHP through the version's php-fpm pool, with the shared files every release links to.
// Deploys are the `deployment` kind's; this kind makes, updates and removes the frame around them.
import type { Deployment, Site } from "../../generated/prisma/browser";
import { siteInputSchema } from "../../domain/sites";
import { files, systemctl, users } from "../commands";
import {
  ensurePlaceholder,
  ensureShared,
  installNginxSite,
  liveLink,
  removeNginxSite,
  removeSiteFiles,
  siteDir,
  writeEnv,
  assertPhpVersion,
  assertRelative,
} from "../commands/releases";
import { defineResource, milestone, requireCheck, step, type Milestone, type Plan, type PlanContext } from "../kit";
import { SITE_USER } from "../packages/site-user";
import { phpFpmSocket } from "../templates/php-fpm-pool";
import { deletePruned, sitePruneSelection } from "./deployment";
import { nginxSite } from "../templates/nginx-site";

/** Where HTTP-01 challenge files are served from, for every site (the certificates' work). */
export const ACME_CHALLENGE_ROOT = "/var/www/brokeforge-acme";

/** The server secret holding a site's .env (core/secrets.ts; created by the router, "" allowed). */
export const envSecretName = (siteId: string) => `site.env_${siteId}`;

export type SiteRow = Pick<Site, "id" | "domain" | "aliases" | "phpVersion" | "webDirectory" | "sharedPaths">;

/** The site's server block: root through the live link, PHP on the version's brokeforge pool. */
export function siteServerBlock(site: SiteRow): string {
  assertPhpVersion(site.phpVersion);
  assertRelative(site.webDirectory, "web directory");
  return nginxSite({
    domain: site.domain,
    aliases: site.aliases,
    root: `${liveLink(site.domain)}/${site.webDirectory}`,
    phpSocket: phpFpmSocket({ user: SITE_USER, phpVersion: site.phpVersion }),
    acmeChallengeRoot: ACME_CHALLENGE_ROOT,
  });
}

function nginxMilestone(site: SiteRow): Milestone {
  return milestone(
    "site_nginx",
    `Serving ${site.domain} with nginx`,
    [installNginxSite(site.domain, siteServerBlock(site), ACME_CHALLENGE_ROOT), systemctl.reload("nginx")],
    // nginx refusing the block is the answer, not bad luck: trying again gives the same refusal.
    { attempts: 1 },
  );
}

const envOf = (site: SiteRow, ctx: PlanContext) => ctx.secrets?.[envSecretName(site.id)] ?? "";

export function siteInstallPlan(site: SiteRow, ctx: PlanContext): Plan {
  const env = envOf(site, ctx);
  return [
    milestone("site_files", `Creating the directories of ${site.domain}`, [
      ensureShared(site.domain, site.sharedPaths),
      ensurePlaceholder(site.domain, site.webDirectory),
      ...(env === "" ? [] : [writeEnv(site.domain, env)]),
    ]),
    nginxMilestone(site),
  ];
}

/** Settings changed (.env, aliases, PHP version, web directory, shared paths): written again. */
export function siteUpdatePlan(site: SiteRow, ctx: PlanContext): Plan {
  return [
    milestone("site_files", `Writing the shared files of ${site.domain}`, [
      ensureShared(site.domain, site.sharedPaths),
      // Even when empty: the user emptied it, and the server must say the same.
      writeEnv(site.domain, envOf(site, ctx)),
    ]),
    nginxMilestone(site),
  ];
}

/** nginx stops serving it first (no request reaches a half-deleted release), then its files go. */
export function siteRemovePlan(site: SiteRow): Plan {
  return [
    milestone("site_nginx_remove", `Removing ${site.domain} from nginx`, [
      removeNginxSite(site.domain),
      step("Testing the configuration", "nginx", "-t"),
      systemctl.reload("nginx"),
    ]),
    milestone("site_files_remove", `Deleting the files of ${site.domain}`, [removeSiteFiles(site.domain)]),
  ];
}

type PruneRow = Pick<Site, "domain" | "activeDeploymentId" | "keepReleases">;
type DeploymentOnDisk = Pick<Deployment, "id" | "status" | "releasePath" | "release">;

/** The site's deployments whose releases go now (ctx.children: its deployments, newest first). */
export function sitePruned(site: PruneRow, ctx: PlanContext): DeploymentOnDisk[] {
  return sitePruneSelection((ctx.children ?? []) as readonly DeploymentOnDisk[], site);
}

/** Retention on demand: the deploy's own prune step, with the site's keepReleases. Safe to run twice (gone is skipped). */
export function sitePrunePlan(site: PruneRow, ctx: PlanContext): Plan {
  const pruned = sitePruned(site, ctx);
  return [
    milestone("prune", `Deleting old releases of ${site.domain} (keeping ${site.keepReleases})`, [
      pruned.length > 0
        ? deletePruned(site.domain, pruned)
        : step(`Nothing to delete: no release of ${site.domain} is beyond the ${site.keepReleases} kept`, "true"),
    ]),
  ];
}

export const site = defineResource<Site>()({
  type: "site",
  table: "site",
  entity: "site",
  api: "sites",
  parent: "nginx",
  label: { one: "site", many: "Sites" },
  input: siteInputSchema,
  fields: [
    { key: "domain", label: "DOMAIN" },
    { key: "phpVersion", label: "PHP", flag: "php" },
    { key: "webDirectory", label: "WEB DIRECTORY", flag: "web-directory" },
    { key: "repository", label: "REPOSITORY" },
    { key: "branch", label: "BRANCH" },
    { key: "healthCheckPath", label: "HEALTH CHECK", flag: "health-check" },
  ],
  // The router adds what is not typed (deploy token, the .env secret).
  create: (input) => ({ ...input }),
  duplicateMessage: (input) => `This server has a site ${input.domain} already`,
  describe: (s) => s.domain,
  secrets: (s) => [envSecretName(s.id)],
  // Its deployments: the prune action's candidates.
  related: { children: { table: "deployment", key: "siteId" } },
  actions: {
    install: {
      label: "Create",
      plan: (s, ctx) => siteInstallPlan(s, ctx),
      requires: (s) => {
        assertPhpVersion(s.phpVersion);
        return [
          requireCheck(
            `The user ${SITE_USER} does not exist on the server: provision it (or install the site user) first`,
            ...users.exists(SITE_USER),
          ),
          requireCheck(
            `PHP ${s.phpVersion}'s php-fpm is not installed on this server: install PHP ${s.phpVersion} first`,
            "test",
            "-x",
            `/usr/sbin/php-fpm${s.phpVersion}`,
          ),
        ];
      },
    },
    update: {
      label: "Update",
      plan: (s, ctx) => siteUpdatePlan(s, ctx),
      requires: (s) => {
        assertPhpVersion(s.phpVersion);
        return [
          requireCheck(
            `PHP ${s.phpVersion}'s php-fpm is not installed on this server: install PHP ${s.phpVersion} first`,
            "test",
            "-x",
            `/usr/sbin/php-fpm${s.phpVersion}`,
          ),
          requireCheck(`The site's directory is not on the server: create the site again`, ...files.requireDir(siteDir(s.domain))),
        ];
      },
      // The .env that reached the server is the one of the version the row has now.
      effects: ({ row, result }) =>
        result === "succeeded" ? [{ table: "site", id: row.id, data: { envWrittenVersion: row.envVersion } }] : [],
    },
    prune: {
      label: "Prune",
      title: (s) => `Prune ${s.domain} (keep ${s.keepReleases} releases)`,
      plan: (s, ctx) => sitePrunePlan(s, ctx),
      requires: (s) => [
        requireCheck(`The site's directory is not on the server: create the site again`, ...files.requireDir(siteDir(s.domain))),
      ],
      // The records stay (the site's audit trail); only their paths are cleared. Recomputed from
      // the rows as they are now, which are the plan's: nothing else ran on the server meanwhile
      // (one queue per server), and the busy site refused any change of its keepReleases.
      effects: ({ row, result }, ctx) =>
        result === "succeeded" ? sitePruned(row, ctx).map((d) => ({ table: "deployment", id: d.id, data: { releasePath: null } })) : [],
    },
    remove: { label: "Remove", plan: (s) => siteRemovePlan(s) },
  },
});
