import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import { SH_APT_UPDATE, SH_DPKG_REPAIR, shAptInstall } from "../commands/expected.test-helper";
import { WRITE_FILE_IF_CHANGED } from "../commands/files";
import { RESTART_IF_CHANGED } from "../commands/systemctl";
import type { Plan, PlanContext } from "../kit";
import { phpFpmPool } from "../templates/php-fpm-pool";
import {
  php,
  PHP_CLI_DEFAULT_IF_UNCHOSEN,
  PHP_CLI_INI,
  PHP_FPM_INI,
  phpInstallPlan,
  phpPackages,
  phpRemovePlan,
  phpVersionFor,
  PURGE_VERSION,
  REMOVE_AND_FLAG,
  setPhpCliDefault,
} from "./php";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
const ctx = (variant?: string, offered: string[] | null = ["8.2"]): PlanContext => ({
  server: { id: "clsrv1", sshPort: 22, sshUser: "root", variants: offered ? { php: offered } : {} },
  variant,
});
const FLAG = "/var/lib/brokeforge/restart-pending/php8.2-fpm";
const PIN = `sh -c ${quote(PHP_CLI_DEFAULT_IF_UNCHOSEN)} sh ''`;

describe("php package", () => {
  it("is a package with a variant per php<V>-fpm the server's apt offers, and needs the site user", () => {
    expect(php.type).toBe("php");
    expect(php.label).toBe("PHP");
    expect(php.requires).toEqual(["site_user"]);
    const pattern = new RegExp(php.variants.aptPattern);
    expect("php8.2-fpm".match(pattern)?.[1]).toBe("8.2");
    expect("php8.10-fpm".match(pattern)?.[1]).toBe("8.10");
    expect(pattern.test("php-fpm")).toBe(false);
    expect(pattern.test("php8.2-fpm-dbgsym")).toBe(false);
    expect(php.variants.name("8.4")).toBe("php8.4");
  });

  it("installs cli, fpm and the usual extensions of that version only", () => {
    expect(phpPackages("8.4")).toEqual([
      "php8.4-cli",
      "php8.4-fpm",
      "php8.4-mysql",
      "php8.4-pgsql",
      "php8.4-sqlite3",
      "php8.4-redis",
      "php8.4-mbstring",
      "php8.4-xml",
      "php8.4-curl",
      "php8.4-zip",
      "php8.4-intl",
      "php8.4-bcmath",
      "php8.4-gd",
      "php8.4-opcache",
    ]);
  });

  it("installs, writes the pool and both ini files, deletes the www pool, tests, restarts only on change, keeps an earlier php default, records", () => {
    const plan = phpInstallPlan(ctx("8.2"));
    expect(rendered(plan)).toEqual([
      { name: "php_install", label: "Installing PHP 8.2", steps: [PIN, SH_APT_UPDATE, ...shAptInstall(...phpPackages("8.2"))] },
      {
        name: "php_configure",
        label: "Configuring PHP 8.2",
        steps: [
          "id -u -- brokeforge",
          `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/php/8.2/fpm/pool.d/brokeforge.conf ${quote(phpFpmPool({ user: "brokeforge", phpVersion: "8.2" }))} 0644 '' ${FLAG}`,
          `sh -c ${quote(REMOVE_AND_FLAG)} sh /etc/php/8.2/fpm/pool.d/www.conf ${FLAG}`,
          `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/php/8.2/fpm/conf.d/99-brokeforge.ini ${quote(PHP_FPM_INI)} 0644 '' ${FLAG}`,
          `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/php/8.2/cli/conf.d/99-brokeforge.ini ${quote(PHP_CLI_INI)} 0644 '' ''`,
          "php-fpm8.2 -t",
          "systemctl enable --now php8.2-fpm",
          `sh -c ${quote(RESTART_IF_CHANGED)} sh php8.2-fpm ${FLAG}`,
          `sh -c ${quote(PHP_CLI_DEFAULT_IF_UNCHOSEN)} sh /usr/bin/php8.2`,
          "dpkg-query -W '-f=${Version}' php8.2-fpm",
        ],
      },
    ]);
    expect(plan[1]!.records).toEqual({
      type: "php",
      name: "php8.2",
      variant: "8.2",
      versionFrom: "version",
      configuration: { pool: "brokeforge", uploadMaxFilesize: "64M" },
    });
  });

  it("writes these php.ini settings", () => {
    expect(PHP_FPM_INI).toBe(`; Managed by BrokeForge: changes here are overwritten.
upload_max_filesize = 64M
post_max_size = 64M
memory_limit = 256M
expose_php = Off
opcache.enable = 1
opcache.validate_timestamps = 1
opcache.revalidate_freq = 2
`);
    expect(PHP_CLI_INI).toBe("; Managed by BrokeForge: changes here are overwritten.\nmemory_limit = 512M\n");
  });

  it("refuses, when the plan is built, a version the server's apt does not offer", () => {
    expect(() => phpInstallPlan(ctx("8.3", ["8.2"]))).toThrow("PHP 8.3 is not offered by this server's apt (it offers 8.2)");
    expect(() => phpInstallPlan(ctx("8.3", ["8.4", "8.2"]))).toThrow("PHP 8.3 is not offered by this server's apt (it offers 8.4, 8.2)");
    expect(() => phpInstallPlan(ctx("8.2", null))).toThrow(/This server's apt offers no PHP .*run the connection test again/);
    expect(() => phpInstallPlan(ctx(undefined))).toThrow("Say which PHP version to install");
  });

  it("phpVersionFor picks the wanted version, or the newest offered", () => {
    expect(phpVersionFor({ variants: { php: ["8.4", "8.2"] } })).toBe("8.4");
    expect(phpVersionFor({ variants: { php: ["8.4", "8.2"] } }, null)).toBe("8.4");
    expect(phpVersionFor({ variants: { php: ["8.4", "8.2"] } }, "8.2")).toBe("8.2");
    expect(() => phpVersionFor({ variants: { php: ["8.4"] } }, "7.4")).toThrow(
      "PHP 7.4 is not offered by this server's apt (it offers 8.4)",
    );
    expect(() => phpVersionFor({})).toThrow(/offers no PHP/);
  });

  it("with apt lists still empty (nothing offered yet), allows only the release's own PHP", () => {
    const bookworm = { id: "debian", release: "12", codename: "bookworm" };
    expect(phpVersionFor({ variants: {}, os: bookworm })).toBe("8.2");
    expect(phpVersionFor({ variants: { php: [] }, os: { id: "debian", release: "13", codename: "trixie" } }, null)).toBe("8.4");
    expect(phpVersionFor({ variants: {}, os: bookworm }, "8.2")).toBe("8.2");
    expect(() => phpVersionFor({ variants: {}, os: bookworm }, "8.4")).toThrow(
      "BrokeForge cannot tell yet which PHP versions this server's apt offers (its package lists were empty at the last connection test): only Debian 12's own PHP 8.2 can be installed now; test the connection again after an apt update to choose another",
    );
    expect(() => phpVersionFor({ variants: {}, os: { id: "debian", release: "11", codename: "bullseye" } })).toThrow(/offers no PHP/);
  });

  it("removes BrokeForge's files, purges that version's packages only, and keeps the remaining php default", () => {
    const plan = phpRemovePlan(ctx("8.2"));
    expect(rendered(plan)).toEqual([
      {
        name: "php_remove",
        label: "Removing PHP 8.2",
        steps: [
          "rm -f -- /etc/php/8.2/fpm/pool.d/brokeforge.conf /etc/php/8.2/fpm/conf.d/99-brokeforge.ini /etc/php/8.2/cli/conf.d/99-brokeforge.ini",
          SH_DPKG_REPAIR,
          `sh -c ${quote(PURGE_VERSION)} sh 8.2`,
          PIN,
        ],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "php", name: "php8.2", variant: "8.2" });
    // Removing a version the OS stopped offering still works.
    expect(() => phpRemovePlan(ctx("7.4", ["8.2"]))).not.toThrow();
  });

  it("a separate step makes a version the php command", () => {
    expect(toShell(setPhpCliDefault("8.4").argv)).toBe("update-alternatives --set php /usr/bin/php8.4");
  });

  it.each(["8", "8.2; id", "../8.2", "8.2\n"])("refuses the version %j", (version) => {
    expect(() => phpRemovePlan(ctx(version))).toThrow(/php: bad version/);
    expect(() => phpPackages(version)).toThrow(/php: bad version/);
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    for (const m of [...phpInstallPlan(ctx("8.2")), ...phpRemovePlan(ctx("8.2"))]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});

// The scripts, run by a local bash against stub update-alternatives / dpkg-query / apt-get.
describe("php scripts", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "bf-php-"));
    mkdirSync(join(root, "bin"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const stub = (name: string, body: string) => {
    writeFileSync(join(root, "bin", name), `#!/bin/bash\necho "${name} $*" >> "${root}/calls"\n${body}\n`);
    chmodSync(join(root, "bin", name), 0o755);
  };
  const calls = () => readFileSync(join(root, "calls"), "utf8").trim().split("\n");
  const run = (argv: readonly string[]) =>
    spawnSync("bash", ["-c", toShell(argv)], { env: { PATH: `${join(root, "bin")}:/usr/bin:/bin`, NODE_ENV: "test" }, encoding: "utf8" });
  // update-alternatives with its state in files: "status" (auto|manual) and "value"; none = no group.
  const alternatives = (status: string | null, value = "") => {
    if (status) writeFileSync(join(root, "status"), status);
    writeFileSync(join(root, "value"), value);
    stub(
      "update-alternatives",
      [
        `cd "${root}"`,
        'if [ "$1" = --query ]; then [ -f status ] || exit 2; printf "Name: php\\nStatus: %s\\nBest: x\\nValue: %s\\n" "$(cat status)" "$(cat value)"; exit 0; fi',
        'if [ "$1" = --set ]; then echo manual > status; printf %s "$3" > value; fi',
      ].join("\n"),
    );
  };
  const state = () => `${readFileSync(join(root, "status"), "utf8").trim()} ${readFileSync(join(root, "value"), "utf8")}`;

  it("the first version installed becomes the php command", () => {
    alternatives(null);
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", ""]).stdout).toBe("No php command yet\n");
    alternatives("auto", "/usr/bin/php8.2"); // apt installed 8.2
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", "/usr/bin/php8.2"]).stdout).toBe("The php command is /usr/bin/php8.2\n");
    expect(state()).toBe("manual /usr/bin/php8.2");
  });

  it("installing a second version leaves the chosen php command alone; an automatic choice is pinned before apt runs", () => {
    alternatives("manual", "/usr/bin/php8.2");
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", ""]).stdout).toBe("The php command stays /usr/bin/php8.2 (chosen before)\n");
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", "/usr/bin/php8.4"]).stdout).toBe(
      "The php command stays /usr/bin/php8.2 (chosen before)\n",
    );
    expect(state()).toBe("manual /usr/bin/php8.2");
    // A PHP installed by hand, never chosen: pinned where it is, so 8.4 does not take over.
    alternatives("auto", "/usr/bin/php8.1");
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", ""]).stdout).toBe("The php command is /usr/bin/php8.1\n");
    expect(run(["sh", "-c", PHP_CLI_DEFAULT_IF_UNCHOSEN, "sh", "/usr/bin/php8.4"]).stdout).toContain("stays /usr/bin/php8.1");
    expect(state()).toBe("manual /usr/bin/php8.1");
  });

  it("purges the installed and config-files php<V>-* packages, nothing of other versions", () => {
    stub("dpkg-query", `[ "$3" = 'php8.2-*' ] || exit 1; printf 'ii  php8.2-cli\\nrc  php8.2-fpm\\nun  php8.2-xdebug\\niU  php8.2-gd\\n'`);
    stub("apt-get", "");
    const r = run(["sh", "-c", PURGE_VERSION, "sh", "8.2"]);
    expect(r.status).toBe(0);
    expect(calls()).toEqual([
      "dpkg-query -W -f=${db:Status-Abbrev} ${Package}\\n php8.2-*",
      "apt-get -o DPkg::Lock::Timeout=120 purge -y php8.2-cli php8.2-fpm php8.2-gd",
    ]);
  });

  it("purging a version with nothing installed is a no-op", () => {
    stub("dpkg-query", "echo 'dpkg-query: no packages found matching php8.2-*' >&2; exit 1");
    stub("apt-get", "");
    const r = run(["sh", "-c", PURGE_VERSION, "sh", "8.2"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("No php8.2 package is installed\n");
    expect(calls()).toHaveLength(1);
  });

  it("deletes Debian's www pool once, flagging php-fpm's restart", () => {
    const pool = join(root, "www.conf");
    const flag = join(root, "flags", "php8.2-fpm");
    writeFileSync(pool, "[www]\n");
    expect(run(["sh", "-c", REMOVE_AND_FLAG, "sh", pool, flag]).stdout).toBe(`${pool} deleted\n`);
    expect(() => readFileSync(flag)).not.toThrow();
    rmSync(flag);
    expect(run(["sh", "-c", REMOVE_AND_FLAG, "sh", pool, flag]).stdout).toBe(`${pool} is gone already\n`);
    expect(() => readFileSync(flag)).toThrow();
  });
});
