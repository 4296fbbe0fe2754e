// PHP: Debian's php<V>-fpm and the usual extensions, side by side per version (a variant per
// version the server's apt offers), with a pool running as the site user. Pure builders.
//
// Per version V, BrokeForge owns three files and nothing else in /etc/php/V:
//  - fpm/pool.d/brokeforge.conf: the sites' pool, as `brokeforge`, on its own socket
//    (catalogue/templates/php-fpm-pool.ts). Debian's `www` pool is deleted: its workers run as
//    www-data, the user nginx runs as, so a site sent there would run with nginx's rights
//    (and read what nginx reads, TLS keys included); nothing of ours uses its socket, and its
//    idle workers cost memory. dpkg keeps a deleted conffile deleted on upgrades.
//  - fpm/conf.d/99-brokeforge.ini and cli/conf.d/99-brokeforge.ini: php.ini settings, read
//    after Debian's php.ini and the extensions' ini files (conf.d is read in name order and the
//    last value wins), so Debian's php.ini stays Debian's and upgrades never prompt about it.
// php-fpm restarts only when one of the fpm files changed (files.writeIfChanged flags it), after
// `php-fpm -t` accepted the configuration; a re-run keeps the same master process.
//
// The `php` command (CLI default) is chosen once: the first version BrokeForge installs
// becomes it, and installing another version later does not change it (as in Forge, choosing
// the default is its own action). Debian's alternatives would otherwise move `php` to the
// highest version installed, so a choice still in "auto" mode is pinned before apt runs.
import { supportedRelease } from "../../domain/os";
import { apt, dpkg, files, systemctl, users } from "../commands";
import { restartFlag } from "../commands/files";
import { definePackage, milestone, step, variantOf, type Plan, type PlanContext, type ServerFacts, type Step } from "../kit";
import { phpFpmPool } from "../templates/php-fpm-pool";
import { SITE_USER } from "./site-user";

/** The extensions every version gets (Debian's php<V>-<ext> packages), besides cli and fpm. */
export const PHP_EXTENSIONS = [
  "mysql",
  "pgsql",
  "sqlite3",
  "redis",
  "mbstring",
  "xml",
  "curl",
  "zip",
  "intl",
  "bcmath",
  "gd",
  "opcache",
] as const;

export const PHP_UPLOAD_MAX = "64M";

function assertVersion(version: string): void {
  if (!/^\d{1,2}\.\d{1,2}$/.test(version)) throw new Error(`php: bad version ${JSON.stringify(version)}`);
}

export const phpFpmUnit = (version: string) => `php${version}-fpm`;
export const phpPoolPath = (version: string) => `/etc/php/${version}/fpm/pool.d/${SITE_USER}.conf`;
export const phpDebianPoolPath = (version: string) => `/etc/php/${version}/fpm/pool.d/www.conf`;
export const phpIniPath = (version: string, sapi: "fpm" | "cli") => `/etc/php/${version}/${sapi}/conf.d/99-brokeforge.ini`;

/** Debian's packages for one version: php8.2-cli, php8.2-fpm, php8.2-mysql… */
export function phpPackages(version: string): string[] {
  assertVersion(version);
  return ["cli", "fpm", ...PHP_EXTENSIONS].map((p) => `php${version}-${p}`);
}

/**
 * php-fpm's settings. Uploads up to 64M like nginx's client_max_body_size. OPcache keeps
 * checking timestamps (every 2 s): sites are served through nginx's $realpath_root, so each
 * release of a zero-downtime deploy is a new path and new cache entries without any check or
 * reload, while a file edited in place (a hotfix, WordPress updating its plugins) is still
 * picked up. Turning the checks off is an optimization that would make every in-place edit
 * wait for a php-fpm reload.
 */
export const PHP_FPM_INI = [
  "; Managed by BrokeForge: changes here are overwritten.",
  `upload_max_filesize = ${PHP_UPLOAD_MAX}`,
  `post_max_size = ${PHP_UPLOAD_MAX}`,
  "memory_limit = 256M",
  "expose_php = Off",
  "opcache.enable = 1",
  "opcache.validate_timestamps = 1",
  "opcache.revalidate_freq = 2",
  "",
].join("\n");

/**
 * The CLI's settings (artisan, queue workers, cron). 512M rather than Debian's unlimited -1: a
 * runaway worker dies alone instead of waking the OOM killer, which may pick the database.
 * Composer raises its own limit (to 1.5G) whatever this says.
 */
export const PHP_CLI_INI = ["; Managed by BrokeForge: changes here are overwritten.", "memory_limit = 512M", ""].join("\n");

// $1 "" (pin the current choice) or the path to make the default when none was chosen.
// `php` in manual mode: someone (BrokeForge or a human) chose it; it stays. In auto mode (or
// absent), nobody chose: with $1 = "" the current value is pinned (so the apt run that follows
// cannot move it to a newer version); with $1 a path, that becomes the default.
export const PHP_CLI_DEFAULT_IF_UNCHOSEN = [
  'q=$(update-alternatives --query php 2>/dev/null) || q=""',
  "status=$(printf '%s\\n' \"$q\" | sed -n 's/^Status: //p')",
  "value=$(printf '%s\\n' \"$q\" | sed -n 's/^Value: //p')",
  'if [ "$status" = manual ]; then echo "The php command stays ${value} (chosen before)"; exit 0; fi',
  "target=${1:-$value}",
  'if [ -z "$target" ] || [ "$target" = none ]; then echo "No php command yet"; exit 0; fi',
  'update-alternatives --set php "$target" || exit 1',
  'echo "The php command is $target"',
].join("\n");

/** Before apt: keeps the `php` command where it is (pins an automatic choice). */
export function pinPhpCliDefault(): Step {
  return step("Keeping the current php command", "sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", "");
}

/** After the install: this version becomes `php` unless one was chosen before. */
export function phpCliDefaultIfUnchosen(version: string): Step {
  assertVersion(version);
  return step(
    `Making PHP ${version} the php command if none was chosen`,
    "sh",
    "-c",
    PHP_CLI_DEFAULT_IF_UNCHOSEN,
    "sh",
    `/usr/bin/php${version}`,
  );
}

/** Makes `version` the `php` command (a "make default" action's step). */
export function setPhpCliDefault(version: string): Step {
  assertVersion(version);
  return step(`Making PHP ${version} the php command`, "update-alternatives", "--set", "php", `/usr/bin/php${version}`);
}

// $1 file, $2 restart flag. Deletes the file when it exists and flags the unit's restart
// (the flag first: a failure between the two still restarts on the retry).
export const REMOVE_AND_FLAG = [
  '[ -e "$1" ] || [ -L "$1" ] || { echo "$1 is gone already"; exit 0; }',
  'mkdir -p -- "${2%/*}" && : > "$2" || exit 1',
  'rm -f -- "$1" || exit 1',
  'echo "$1 deleted"',
].join("\n");

// $1 version. Purges every installed (or config-files) php<V>-* package — extensions added
// by hand too — and no other version's. apt also removes what depends on them (composer
// through Debian's php-cli, when V is the OS's default PHP) and says so in its output.
export const PURGE_VERSION = [
  "v=$1",
  "pkgs=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' \"php$v-*\" 2>/dev/null | awk 'substr($0, 2, 1) != \"n\" { print $2 }')",
  'if [ -z "$pkgs" ]; then echo "No php$v package is installed"; exit 0; fi',
  "env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 purge -y $pkgs",
].join("\n");

/**
 * The PHP version to install: `wanted`, or the newest the server's apt offers. A version the
 * OS does not offer is refused here, when the plan is built — not by a failed apt run.
 *
 * A fresh server whose apt package lists are still empty (some cloud images ship without them)
 * offers nothing at its first connection test, yet its release's own PHP is certain (Debian 12
 * ships 8.2): that one is allowed, since the install runs `apt-get update` first; any other
 * version waits until a connection test after an apt update can tell.
 */
export function phpVersionFor(server: Pick<ServerFacts, "variants" | "os">, wanted?: string | null): string {
  const offered = server.variants?.php ?? [];
  if (offered.length === 0) {
    const release = supportedRelease(server.os);
    if (!release) throw new Error("This server's apt offers no PHP (no php<version>-fpm package); run the connection test again");
    if (!wanted || wanted === release.php) return release.php;
    throw new Error(
      `BrokeForge cannot tell yet which PHP versions this server's apt offers (its package lists were empty at the last connection test): ` +
        `only ${release.name} ${release.release}'s own PHP ${release.php} can be installed now; test the connection again after an apt update to choose another`,
    );
  }
  if (!wanted) return offered[0]!;
  if (!offered.includes(wanted)) throw new Error(`PHP ${wanted} is not offered by this server's apt (it offers ${offered.join(", ")})`);
  return wanted;
}

export function phpInstallPlan(ctx: PlanContext): Plan {
  const version = phpVersionFor(ctx.server, variantOf(ctx, "PHP version"));
  assertVersion(version);
  const unit = phpFpmUnit(version);
  const name = `php${version}`;
  return [
    milestone("php_install", `Installing PHP ${version}`, [pinPhpCliDefault(), apt.update(), ...apt.install(phpPackages(version))]),
    milestone(
      "php_configure",
      `Configuring PHP ${version}`,
      [
        users.requireUser(SITE_USER),
        files.writeIfChanged(phpPoolPath(version), phpFpmPool({ user: SITE_USER, phpVersion: version }), {
          mode: "0644",
          restarts: unit,
          label: `Writing the ${SITE_USER} pool`,
        }),
        step(
          "Deleting Debian's www pool (it runs as www-data)",
          "sh",
          "-c",
          REMOVE_AND_FLAG,
          "sh",
          phpDebianPoolPath(version),
          restartFlag(unit),
        ),
        files.writeIfChanged(phpIniPath(version, "fpm"), PHP_FPM_INI, {
          mode: "0644",
          restarts: unit,
          label: "Writing php-fpm's php.ini settings",
        }),
        files.writeIfChanged(phpIniPath(version, "cli"), PHP_CLI_INI, { mode: "0644", label: "Writing the CLI's php.ini settings" }),
        step("Testing php-fpm's configuration", `php-fpm${version}`, "-t"),
        systemctl.enableNow(unit),
        systemctl.restartIfChanged(unit),
        phpCliDefaultIfUnchosen(version),
        dpkg.version(`php${version}-fpm`),
      ],
      {
        records: {
          type: "php",
          name,
          variant: version,
          versionFrom: "version",
          configuration: { pool: SITE_USER, uploadMaxFilesize: PHP_UPLOAD_MAX },
        },
      },
    ),
  ];
}

/** Purges this version's packages (and BrokeForge's files, which dpkg does not own); other versions stay. */
export function phpRemovePlan(ctx: PlanContext): Plan {
  const version = variantOf(ctx, "PHP version");
  assertVersion(version);
  return [
    milestone(
      "php_remove",
      `Removing PHP ${version}`,
      [
        // First, so that dpkg finds /etc/php/V's directories empty and removes them.
        files.remove([phpPoolPath(version), phpIniPath(version, "fpm"), phpIniPath(version, "cli")], "Deleting BrokeForge's PHP files"),
        apt.repair(),
        step(`Purging the php${version} packages`, "sh", "-c", PURGE_VERSION, "sh", version),
        // Debian moved `php` to another version if this one was it: keep that one from moving again.
        pinPhpCliDefault(),
      ],
      { removes: { type: "php", name: `php${version}`, variant: version } },
    ),
  ];
}

export const php = definePackage({
  type: "php",
  name: "php",
  label: "PHP",
  description: `PHP-FPM with the usual extensions, a pool running as ${SITE_USER}, ${PHP_UPLOAD_MAX} uploads and OPcache; several versions side by side.`,
  // The versions offered are the variants (php<V>-fpm names in the server's apt); Debian's
  // unversioned php-fpm would only show its metapackage number (2:93).
  aptPackages: [],
  requires: ["site_user"],
  variants: {
    label: "version",
    aptPattern: "^php(\\d+\\.\\d+)-fpm$",
    name: (version) => `php${version}`,
  },
  install: (ctx) => phpInstallPlan(ctx),
  remove: (ctx) => phpRemovePlan(ctx),
});
