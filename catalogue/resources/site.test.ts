// Sites: plan shapes and exact commands of create, update and remove.
import { describe, expect, it } from "vitest";
import type { Site } from "../../generated/prisma/browser";
import { toShell } from "../../activities/ssh/shell";
import { statusesOf, type PlanContext } from "../kit";
import { REQUIRE_DIR } from "../commands/files";
import { DELETE_UNLESS_LIVE, ensurePlaceholder, ensureShared, installNginxSite, removeSiteFiles, writeEnv } from "../commands/releases";
import { ACME_CHALLENGE_ROOT, site, siteServerBlock } from "./site";

const row = {
  id: "csite1",
  serverId: "s1",
  domain: "example.com",
  aliases: ["www.example.com"],
  phpVersion: "8.2",
  webDirectory: "public",
  repository: "git@github.com:acme/app.git",
  branch: "main",
  deployScript: "npm ci",
  sharedPaths: ["storage", ".env"],
  healthCheckPath: null,
  envVersion: 3,
  envWrittenVersion: 2,
  keepReleases: 3,
  activeDeploymentId: "s3",
  status: "pending",
  errorLog: null,
} as unknown as Site;
const ctx = (env?: string): PlanContext => ({
  server: { id: "s1", sshPort: 22, sshUser: "root" },
  secrets: env === undefined ? {} : { "site.env_csite1": env },
});
const sh = (s: { argv: readonly string[] }) => toShell(s.argv);

describe("site", () => {
  it("serves the live link's web directory through the version's brokeforge pool", () => {
    const block = siteServerBlock(row);
    expect(block).toContain("    server_name example.com www.example.com;\n    root /home/brokeforge/example.com/public;\n");
    expect(block).toContain("fastcgi_pass unix:/run/php/php8.2-fpm-brokeforge.sock;");
    expect(block).toContain(`root ${ACME_CHALLENGE_ROOT};`);
  });

  it("creates: directories (with the .env when there is one), then nginx, tested, once", () => {
    const plan = site.actions.install.plan(row, ctx("APP_KEY=x\n"));
    expect(plan.map((m) => [m.name, m.attempts])).toEqual([
      ["site_files", undefined],
      ["site_nginx", 1],
    ]);
    expect(plan[0]!.steps.map(sh)).toEqual([
      sh(ensureShared("example.com", ["storage", ".env"])),
      sh(ensurePlaceholder("example.com", "public")),
      sh(writeEnv("example.com", "APP_KEY=x\n")),
    ]);
    expect(plan[1]!.steps.map(sh)).toEqual([
      sh(installNginxSite("example.com", siteServerBlock(row), ACME_CHALLENGE_ROOT)),
      "systemctl reload nginx",
    ]);
    // No .env yet: the shared file stays as ENSURE_SHARED made it (empty).
    expect(site.actions.install.plan(row, ctx("")).at(0)!.steps).toHaveLength(2);
    expect(site.actions.install.plan(row, ctx()).at(0)!.steps).toHaveLength(2);
  });

  it("requires the site user and the version's php-fpm, with words a user understands", () => {
    const checks = site.actions.install.requires!(row, ctx());
    expect(checks.map((c) => c.message)).toEqual([
      "The user brokeforge does not exist on the server: provision it (or install the site user) first",
      "PHP 8.2's php-fpm is not installed on this server: install PHP 8.2 first",
    ]);
    expect(checks[1]).toMatchObject({ kind: "check", argv: ["test", "-x", "/usr/sbin/php-fpm8.2"] });
    expect(() => site.actions.install.requires!({ ...row, phpVersion: "8.2;x" }, ctx())).toThrow(/bad PHP version/);
  });

  it("updates: the .env written even when empty, the server block again; the written version recorded", () => {
    const plan = site.actions.update!.plan(row, ctx(""));
    expect(plan.map((m) => m.name)).toEqual(["site_files", "site_nginx"]);
    expect(plan[0]!.steps.map(sh)).toEqual([sh(ensureShared("example.com", ["storage", ".env"])), sh(writeEnv("example.com", ""))]);
    const at = new Date();
    expect(site.actions.update!.effects!({ row, result: "succeeded", startedAt: at, at }, ctx())).toEqual([
      { table: "site", id: "csite1", data: { envWrittenVersion: 3 } },
    ]);
    expect(site.actions.update!.effects!({ row, result: "failed", startedAt: at, at }, ctx())).toEqual([]);
  });

  it("removes: nginx first (tested, reloaded), then the files as the site user", () => {
    const plan = site.actions.remove.plan(row, ctx());
    expect(plan.map((m) => m.name)).toEqual(["site_nginx_remove", "site_files_remove"]);
    expect(plan[0]!.steps.map(sh)).toEqual([
      "rm -f -- /etc/nginx/sites-enabled/example.com.conf /etc/nginx/sites-available/example.com.conf",
      "nginx -t",
      "systemctl reload nginx",
    ]);
    expect(plan[1]!.steps.map(sh)).toEqual([sh(removeSiteFiles("example.com"))]);
  });

  it("loads its .env secret, reads as its domain, and refuses hostile rows when planning", () => {
    expect(site.secrets!(row)).toEqual(["site.env_csite1"]);
    expect(site.describe(row)).toBe("example.com");
    expect(statusesOf(site, "update")).toMatchObject({ from: ["active", "failed"], during: "updating", success: "active" });
    expect(() => site.actions.install.plan({ ...row, domain: "a;b.com" }, ctx())).toThrow(/bad domain/);
    expect(() => site.actions.install.plan({ ...row, sharedPaths: ["../x"] }, ctx())).toThrow(/bad shared path/);
    expect(() => site.actions.install.plan({ ...row, webDirectory: "/etc" }, ctx())).toThrow(/bad web directory/);
  });

  describe("prune", () => {
    const D = "/home/brokeforge/deployments/example.com";
    const d = (id: string, status: string, release: string | null) => ({
      id,
      status,
      release: release ?? `2026120${id.slice(1)}-100000`,
      releasePath: release === null ? null : `${D}/${release}`,
    });
    // The site's deployments, newest first: a queued deploy, successes, a failed one (its
    // directory went with it) and one pruned before.
    const children = [
      d("q8", "pending", "20261208-100000"),
      d("s7", "success", "20261207-100000"),
      d("f6", "failed", null),
      d("s5", "success", "20261205-100000"),
      d("s4", "success", "20261204-100000"),
      d("s3", "success", "20261203-100000"),
      d("s2", "success", "20261202-100000"),
      d("p1", "success", null),
      d("s0", "success", "20261200-100000"),
    ];
    const pruneCtx = (): PlanContext => ({ ...ctx(), children });
    const deletes = (...releases: string[]) => [
      "runuser",
      "-u",
      "brokeforge",
      "--",
      "sh",
      "-c",
      DELETE_UNLESS_LIVE,
      "sh",
      "/home/brokeforge/example.com",
      ...releases.flatMap((r) => [`${D}/${r}`, `${D}/logs/${r}.log`]),
    ];

    it("deletes the successful releases beyond keepReleases; the live one (after a rollback) and the rollback target stay", () => {
      // keep 3 of s7, s5, s4, s3, s2, s0: s3 is live, s7 the rollback target (both kept anyway); s2, s0 go.
      const plan = site.actions.prune!.plan(row, pruneCtx());
      expect(plan.map((m) => [m.name, m.label])).toEqual([["prune", "Deleting old releases of example.com (keeping 3)"]]);
      expect(plan[0]!.steps.map((s) => s.argv)).toEqual([deletes("20261202-100000", "20261200-100000")]);
      // Keeping 1 with the newest live: the rollback target (s5) stays however few are kept.
      const one = site.actions.prune!.plan({ ...row, keepReleases: 1, activeDeploymentId: "s7" }, pruneCtx());
      expect(one[0]!.steps.map((s) => s.argv)).toEqual([
        deletes("20261204-100000", "20261203-100000", "20261202-100000", "20261200-100000"),
      ]);
    });

    it("clears the pruned deployments' paths when it succeeded (records kept), nothing when it failed", () => {
      const at = new Date();
      expect(site.actions.prune!.effects!({ row, result: "succeeded", startedAt: at, at }, pruneCtx())).toEqual([
        { table: "deployment", id: "s2", data: { releasePath: null } },
        { table: "deployment", id: "s0", data: { releasePath: null } },
      ]);
      expect(site.actions.prune!.effects!({ row, result: "failed", startedAt: at, at }, pruneCtx())).toEqual([]);
    });

    it("with nothing beyond the kept releases runs one no-op step; a second run of a prune finds nothing", () => {
      const plan = site.actions.prune!.plan({ ...row, keepReleases: 14 }, pruneCtx());
      expect(plan[0]!.steps).toEqual([{ label: "Nothing to delete: no release of example.com is beyond the 14 kept", argv: ["true"] }]);
      // After the first run's effects: the pruned rows have no path, so they are no candidates.
      const after = children.map((c) => (c.id === "s2" || c.id === "s0" ? { ...c, releasePath: null } : c));
      expect(site.actions.prune!.plan(row, { ...ctx(), children: after })[0]!.steps.map((s) => s.argv)).toEqual([["true"]]);
    });

    it("runs on an active site only, says what it keeps, requires the site's directory, refuses paths outside it", () => {
      expect(statusesOf(site, "prune")).toMatchObject({ from: ["active"], queued: "updating", during: "updating", success: "active" });
      expect(site.actions.prune!.title!(row)).toBe("Prune example.com (keep 3 releases)");
      expect(site.actions.prune!.requires!(row, pruneCtx())).toEqual([
        {
          kind: "check",
          argv: ["sh", "-c", REQUIRE_DIR, "sh", D],
          message: "The site's directory is not on the server: create the site again",
        },
      ]);
      const hostile = [...children, { ...d("x1", "success", null), releasePath: "/etc" }];
      expect(() => site.actions.prune!.plan(row, { ...ctx(), children: hostile })).toThrow(/bad release path "\/etc"/);
    });
  });
});
