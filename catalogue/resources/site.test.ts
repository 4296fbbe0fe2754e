// Sites: plan shapes and exact commands of create, update and remove.
import { describe, expect, it } from "vitest";
import type { Site } from "../../generated/prisma/browser";
import { toShell } from "../../activities/ssh/shell";
import { statusesOf, type PlanContext } from "../kit";
import { ensurePlaceholder, ensureShared, installNginxSite, removeSiteFiles, writeEnv } from "../commands/releases";
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
});
