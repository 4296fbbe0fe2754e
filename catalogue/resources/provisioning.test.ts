import { describe, expect, it } from "vitest";
import type { Provisioning } from "../../generated/prisma/browser";
import { operationTitle, secretNames, type PlanContext } from "../kit";
import { PACKAGES, packageDefinition } from "../packages";
import { provisioning, provisioningPlan, rolePackages } from "./provisioning";

const debian12 = { id: "debian", release: "12", codename: "bookworm" };
/** Every package's secrets, as the activities would load them (each a distinct value). */
const secrets = Object.fromEntries(PACKAGES.flatMap((p) => secretNames(p)).map((name, i) => [name, `generated-secret-for-tests-${i}`]));
const ctx = (offered: string[] = ["8.2"], os: PlanContext["server"]["os"] = debian12): PlanContext => ({
  server: {
    id: "clsrv1",
    sshPort: 22,
    sshUser: "root",
    os,
    variants: { php: offered },
    siteUserPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrokeForgeSiteUserKeyForTests brokeforge",
  },
  secrets,
});
const names = (plan: readonly { name: string }[]) => plan.map((m) => m.name);
/** The milestones a package contributes on its own, as the packages page would install it. */
const own = (type: string, c: PlanContext = ctx()) => names(packageDefinition(type)!.install(c));

describe("provisioning roles", () => {
  it("gives each role its packages in install order (base first; the database before Redis and the workers)", () => {
    expect(rolePackages({ role: "bare", database: null })).toEqual(["base", "site_user", "firewall"]);
    expect(rolePackages({ role: "web", database: null })).toEqual(["base", "site_user", "firewall", "nginx", "php", "composer", "node"]);
    expect(rolePackages({ role: "database", database: "postgresql" })).toEqual(["base", "site_user", "firewall", "postgresql"]);
    expect(rolePackages({ role: "worker", database: null })).toEqual([
      "base",
      "site_user",
      "firewall",
      "php",
      "composer",
      "scheduler",
      "supervisor",
    ]);
    expect(rolePackages({ role: "app", database: "mariadb" })).toEqual([
      "base",
      "site_user",
      "firewall",
      "nginx",
      "php",
      "composer",
      "node",
      "mariadb",
      "redis",
      "scheduler",
      "supervisor",
    ]);
  });

  it("is every role package's own install plan, in order, plus HTTP/HTTPS after the firewall for roles that serve the web", () => {
    const plan = provisioningPlan({ role: "web", database: null, phpVersion: null }, ctx());
    expect(names(plan)).toEqual([
      ...own("base"),
      ...own("site_user"),
      ...own("firewall"),
      "firewall_web_ports",
      ...own("nginx"),
      ...own("php", { ...ctx(), variant: "8.2" }),
      ...own("composer"),
      ...own("node"),
    ]);
    const web = plan.find((m) => m.name === "firewall_web_ports")!;
    expect(web.brings?.rows.map((r) => r.id)).toEqual(["http-clsrv1", "https-clsrv1"]);
  });

  it("opens no web ports for roles without nginx", () => {
    for (const role of ["bare", "worker"] as const) {
      expect(names(provisioningPlan({ role, database: null, phpVersion: null }, ctx()))).not.toContain("firewall_web_ports");
    }
    expect(names(provisioningPlan({ role: "database", database: "postgresql", phpVersion: null }, ctx()))).not.toContain(
      "firewall_web_ports",
    );
  });

  it("installs the chosen PHP version, or the newest the server's apt offers when none was chosen", () => {
    const chosen = provisioningPlan({ role: "web", database: null, phpVersion: "8.2" }, ctx(["8.4", "8.2"]));
    expect(chosen.find((m) => m.name === "php_install")!.label).toBe("Installing PHP 8.2");
    const newest = provisioningPlan({ role: "web", database: null, phpVersion: null }, ctx(["8.4", "8.2"]));
    expect(newest.find((m) => m.name === "php_install")!.label).toBe("Installing PHP 8.4");
  });

  it("refuses, before anything runs, a PHP version the server does not offer and a server whose OS it does not know", () => {
    expect(() => provisioningPlan({ role: "web", database: null, phpVersion: "7.4" }, ctx(["8.2"]))).toThrow(
      "PHP 7.4 is not offered by this server's apt (it offers 8.2)",
    );
    expect(() =>
      provisioningPlan({ role: "bare", database: null, phpVersion: null }, { ...ctx(), server: { ...ctx().server, os: undefined } }),
    ).toThrow(/Run the connection test first/);
  });

  it("has unique milestone names in every role (a resume finds its milestone by step and name)", () => {
    for (const database of ["mariadb", "postgresql"] as const) {
      const plan = provisioningPlan({ role: "app", database, phpVersion: null }, ctx());
      expect(new Set(names(plan)).size).toBe(plan.length);
    }
  });

  it("is resumable, and Provision starts from pending, failed or active (a re-run of a finished provisioning)", () => {
    const install = provisioning.actions.install;
    expect(install.resumable).toBe(true);
    expect(install.label).toBe("Provision");
    const row: Pick<Provisioning, "id" | "serverId" | "status" | "errorLog" | "role" | "phpVersion" | "database"> = {
      id: "clprov1",
      serverId: "clsrv1",
      status: "pending",
      errorLog: null,
      role: "web",
      phpVersion: "8.4",
      database: null,
    };
    expect(operationTitle(provisioning, "install", row)).toBe("Provision the server as Web server (PHP 8.4)");
    expect(install.statuses).toEqual({ from: ["pending", "failed", "active"], queued: "installing" });
  });
});
