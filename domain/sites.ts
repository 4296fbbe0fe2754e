// Sites, deployments and site commands: what a user types, shared by the browser forms, tRPC,
// the CLI and the catalogue's builders. No server imports here: bundled into the browser too.
//
// Every value here reaches a server: a domain becomes a directory, an nginx server_name and a
// log file name; a web directory becomes an nginx root; a repository and a branch reach git's
// argv. So each is checked against what the thing it becomes accepts, and refused with a
// message that says what is allowed, rather than quoted into something that might still bite.
import { z } from "zod";

/** Where sites live on the server (the seed's layout). */
export const SITES_HOME = "/home/brokeforge";
export const DEPLOYMENTS_HOME = `${SITES_HOME}/deployments`;

/** Successful releases kept per site (seed 002: "keeps last 14"): a new site's keepReleases. */
export const KEEP_RELEASES = 14;
export const MAX_KEEP_RELEASES = 100;

/**
 * How many successful releases a site keeps on disk (the live one and the rollback target are
 * kept besides). A form's text "7" is read as 7; nothing else is converted (no true → 1).
 */
const KEEP_MESSAGE = `Releases to keep must be a whole number from 1 to ${MAX_KEEP_RELEASES}`;
export const keepReleasesSchema = z.preprocess(
  (v) => (typeof v === "string" && /^\s*\d{1,6}\s*$/.test(v) ? Number(v) : v),
  z.number({ message: KEEP_MESSAGE }).int(KEEP_MESSAGE).min(1, KEEP_MESSAGE).max(MAX_KEEP_RELEASES, KEEP_MESSAGE),
);

/**
 * The deploy script a new site starts with, one command per line, run in the new release as
 * the site user. Each line is guarded so an app without Composer, npm or Laravel deploys too.
 * (The seed's "git fetch && git pull" made sense for a shared checkout; each release here is a
 * fresh clone of the branch.)
 */
export const DEFAULT_DEPLOY_SCRIPT = [
  "[ ! -f composer.json ] || composer install --no-dev --no-interaction --prefer-dist --optimize-autoloader",
  "[ ! -f package-lock.json ] || npm ci",
  "[ ! -f artisan ] || php artisan migrate --force",
].join("\n");

export const DEFAULT_SHARED_PATHS = ["storage", ".env"] as const;

const LABEL = "(?!-)[a-z0-9-]{1,63}(?<!-)";
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})+$`);
const WILDCARD = new RegExp(`^\\*\\.(?=.{1,251}$)${LABEL}(\\.${LABEL})+$`);

export const domainSchema = z
  .string({ message: "Domain is required" })
  .trim()
  .toLowerCase()
  .min(1, "Domain is required")
  .refine((v) => DOMAIN.test(v), "Enter a domain like example.com or app.example.com (letters, digits, hyphens and dots)");

const aliasSchema = z
  .string()
  .trim()
  .toLowerCase()
  .refine((v) => DOMAIN.test(v) || WILDCARD.test(v), "Each alias must be a domain like www.example.com (or *.example.com)");

/** A path inside the release, relative: "public", "web/dist", "storage", ".env". */
export const relativePathSchema = (what: string) =>
  z
    .string()
    .trim()
    .min(1, `${what} is required`)
    .max(255, `${what} must be at most 255 characters`)
    .refine(
      (v) => /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(v) && !v.split("/").some((p) => p === "." || p === ".."),
      `${what} must be a relative path inside the release (letters, digits, . _ - and /; no .. or leading /)`,
    );

/**
 * A git repository over SSH, the way deploy keys work: `git@host:owner/repo.git` or
 * `ssh://user@host[:port]/path`. No options (a leading "-"), no spaces, no shell or git
 * transport tricks (`ext::`, `file://`, `--upload-pack`).
 */
export const repositorySchema = z
  .string()
  .trim()
  .max(512, "Repository must be at most 512 characters")
  .refine(
    (v) =>
      /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._~/-]+$/.test(v) ||
      /^ssh:\/\/[A-Za-z0-9._-]+@[A-Za-z0-9.-]+(:\d{1,5})?\/[A-Za-z0-9._~/-]+$/.test(v),
    "Enter the repository's SSH address, like git@github.com:owner/app.git or ssh://git@host:22/owner/app.git",
  )
  .refine((v) => !v.split(/[@:/]/).some((part) => part.startsWith("-")), "No part of the repository address may start with -");

/** A branch name git accepts (git check-ref-format, simplified and stricter). */
export const branchSchema = z
  .string()
  .trim()
  .min(1, "Branch is required")
  .max(200, "Branch must be at most 200 characters")
  .refine(
    (v) =>
      /^[A-Za-z0-9._/-]+$/.test(v) &&
      !v.startsWith("-") &&
      !v.startsWith("/") &&
      !v.endsWith("/") &&
      !v.endsWith(".lock") &&
      !v.includes("..") &&
      !v.includes("//"),
    "Enter a branch name like main or release/2.0",
  );

export const deployScriptSchema = z
  .string()
  .max(20_000, "The deploy script must be at most 20,000 characters")
  .refine((v) => !/\0/.test(v), "The deploy script can't contain NUL bytes");

export const healthCheckPathSchema = z
  .string()
  .trim()
  .max(512, "Health check path must be at most 512 characters")
  .refine((v) => /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(v), "The health check must be a path on the site, like /up or /health");

export const phpVersionSchema = z
  .string({ message: "Choose a PHP version" })
  .trim()
  .refine((v) => /^\d\.\d$/.test(v), "Choose a PHP version like 8.2");

/** A form's empty field ("" or spaces) is a field not given. */
const blankIsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === "string" && v.trim() === "" ? undefined : v), schema);
const optional = <T extends z.ZodType>(schema: T) => blankIsUnset(schema.optional());

export const siteInputSchema = z.object({
  domain: domainSchema,
  aliases: z.array(aliasSchema).max(20, "At most 20 aliases").default([]),
  phpVersion: phpVersionSchema,
  webDirectory: relativePathSchema("Web directory").default("public"),
  repository: optional(repositorySchema),
  branch: branchSchema.default("main"),
  deployScript: deployScriptSchema.default(DEFAULT_DEPLOY_SCRIPT),
  sharedPaths: z
    .array(relativePathSchema("Shared path"))
    .max(30, "At most 30 shared paths")
    .default([...DEFAULT_SHARED_PATHS]),
  healthCheckPath: optional(healthCheckPathSchema),
  keepReleases: blankIsUnset(keepReleasesSchema.default(KEEP_RELEASES)),
});
export type SiteInput = z.output<typeof siteInputSchema>;

/**
 * What the site's settings form may change later (the domain stays: it names directories and
 * logs). Only the fields sent change: no defaults here (a `.partial()` of the create schema kept
 * them, so saving the aliases alone reset the deploy script and shared paths).
 */
export const siteSettingsSchema = z.object({
  aliases: z.array(aliasSchema).max(20, "At most 20 aliases").optional(),
  phpVersion: phpVersionSchema.optional(),
  webDirectory: relativePathSchema("Web directory").optional(),
  repository: optional(repositorySchema),
  branch: branchSchema.optional(),
  deployScript: deployScriptSchema.optional(),
  sharedPaths: z.array(relativePathSchema("Shared path")).max(30, "At most 30 shared paths").optional(),
  healthCheckPath: optional(healthCheckPathSchema),
  keepReleases: optional(keepReleasesSchema),
});

/** The shared .env: text, at most 64 KiB, no NUL. Stored encrypted; written by the site's update. */
export const envSchema = z
  .string()
  .max(64 * 1024, "The .env file must be at most 64 KiB")
  .refine((v) => !/\0/.test(v), "The .env file can't contain NUL bytes");

/** A command run in the site's current release (site commands), with its timeout. */
export const siteCommandInputSchema = z.object({
  siteId: z.string().min(1),
  command: z
    .string({ message: "Command is required" })
    .trim()
    .min(1, "Command is required")
    .max(4096, "Command must be at most 4096 characters")
    .refine((v) => !/\0/.test(v), "Command can't contain NUL bytes"),
  timeoutSeconds: z.coerce
    .number()
    .int()
    .min(1, "Timeout must be between 1 and 3600 seconds")
    .max(3600, "Timeout must be between 1 and 3600 seconds")
    .default(600),
});
export type SiteCommandInput = z.output<typeof siteCommandInputSchema>;

/** Where a deploy came from. */
export const DEPLOY_TRIGGERS = ["ui", "api", "hook", "cli"] as const;
export type DeployTrigger = (typeof DEPLOY_TRIGGERS)[number];

/**
 * A release directory's name: the UTC time, sortable (20261203-172859), then "-2", "-3"… for a
 * second release within the same second. (The seed's ddMMYYYY-HHMMSS does not sort by time.)
 */
export function releaseName(at: Date, sameSecond = 0): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${at.getUTCFullYear()}${p(at.getUTCMonth() + 1)}${p(at.getUTCDate())}-${p(at.getUTCHours())}${p(at.getUTCMinutes())}${p(at.getUTCSeconds())}`;
  return sameSecond > 0 ? `${base}-${sameSecond + 1}` : base;
}

export const RELEASE_NAME = /^\d{8}-\d{6}(-\d{1,4})?$/;
