import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import {
  AUTHORIZE_KEY,
  ENSURE_DEPLOY_KEY,
  INSTALL_SUDOERS,
  siteUser,
  siteUserInstallPlan,
  siteUserRemovePlan,
  sudoersFile,
  UNAUTHORIZE_KEY,
} from "./site-user";
import type { Plan, PlanContext } from "../kit";
import { SH_APT_UPDATE, shAptInstall } from "../commands/expected.test-helper";
import { ENSURE_USER } from "../commands/users";

function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0lJ3c4cJwq8y5x0pT1y7h0bXrEJm7d2Yb3pK8sV1n brokeforge-site@clsrv1";
const ctx = (over: Partial<PlanContext["server"]> = {}): PlanContext => ({
  server: { id: "clsrv1", sshPort: 22, sshUser: "root", siteUserPublicKey: KEY, ...over },
});

const SUDOERS = `# Managed by BrokeForge: changes here are overwritten.
# The site user may reload the services its sites need, and nothing else.
Cmnd_Alias BROKEFORGE_RELOADS = /usr/sbin/nginx -t, \\
    /usr/bin/systemctl reload nginx, \\
    /usr/bin/systemctl reload php7.4-fpm, \\
    /usr/bin/systemctl reload php8.0-fpm, \\
    /usr/bin/systemctl reload php8.1-fpm, \\
    /usr/bin/systemctl reload php8.2-fpm, \\
    /usr/bin/systemctl reload php8.3-fpm, \\
    /usr/bin/systemctl reload php8.4-fpm, \\
    /usr/bin/systemctl reload php8.5-fpm
brokeforge ALL=(root) NOPASSWD: BROKEFORGE_RELOADS
`;

describe("siteUserInstallPlan", () => {
  it("creates the user, authorizes the key as the user, installs a checked sudoers file, makes the deploy key", () => {
    const plan = siteUserInstallPlan(ctx());
    expect(rendered(plan)).toEqual([
      {
        name: "site_user_account",
        label: "Creating the brokeforge user",
        steps: [
          SH_APT_UPDATE,
          ...shAptInstall("sudo", "openssh-client"),
          `sh -c ${quote(ENSURE_USER)} sh brokeforge /home/brokeforge /bin/bash`,
          "chmod 0711 -- /home/brokeforge",
        ],
      },
      {
        name: "site_user_ssh",
        label: "Authorizing BrokeForge's key for brokeforge",
        steps: [`runuser -u brokeforge -- sh -c ${quote(AUTHORIZE_KEY)} sh /home/brokeforge ${quote(KEY)}`],
      },
      {
        name: "site_user_sudoers",
        label: "Allowing brokeforge to reload nginx and PHP",
        steps: [`sh -c ${quote(INSTALL_SUDOERS)} sh /etc/sudoers.d/brokeforge ${quote(SUDOERS)}`],
      },
      {
        name: "site_user_deploy_key",
        label: "Creating the deploy key",
        steps: [
          `runuser -u brokeforge -- sh -c ${quote(ENSURE_DEPLOY_KEY)} sh /home/brokeforge/.ssh/id_ed25519`,
          "runuser -u brokeforge -- cat -- /home/brokeforge/.ssh/id_ed25519.pub",
        ],
      },
    ]);
    expect(plan.at(-1)!.records).toEqual({
      type: "site_user",
      name: "brokeforge",
      configuration: { home: "/home/brokeforge" },
      configurationFrom: { deployKey: "deploy_key" },
    });
    expect(plan.at(-1)!.steps.at(-1)!.output).toBe("deploy_key");
  });

  it("refuses to build without BrokeForge's site user key, or with something that is not one key line", () => {
    expect(() => siteUserInstallPlan(ctx({ siteUserPublicKey: null }))).toThrow(/no site user key/);
    expect(() => siteUserInstallPlan(ctx({ siteUserPublicKey: undefined }))).toThrow(/no site user key/);
    for (const bad of [`${KEY}\nssh-ed25519 AAAA evil`, `command="id" ${KEY}`, "ssh-dss AAAAB3Nz x", "ssh-ed25519 not!base64"]) {
      expect(() => siteUserInstallPlan(ctx({ siteUserPublicKey: bad }))).toThrow(/not one OpenSSH public key line/);
    }
  });

  it("sudoers: exact reload commands per PHP version (known ones plus what the OS offers), no wildcards", () => {
    expect(sudoersFile(["8.2", "7.4", "8.0", "8.1", "8.3", "8.4", "8.5", "8.2"])).toBe(SUDOERS);
    const offered = rendered(siteUserInstallPlan(ctx({ variants: { php: ["8.10", "8.2"] } })))[2]!.steps[0]!;
    expect(offered).toContain("/usr/bin/systemctl reload php8.5-fpm, \\\n    /usr/bin/systemctl reload php8.10-fpm\n");
    expect(SUDOERS).not.toMatch(/[*?[]/);
    expect(() => sudoersFile(["8.2 nginx"])).toThrow(/bad PHP version/);
    expect(() => siteUserInstallPlan(ctx({ variants: { php: ["8.2, ALL"] } }))).toThrow(/bad PHP version/);
  });
});

describe("siteUserRemovePlan", () => {
  it("deletes the sudoers file and BrokeForge's key, keeps the account and its home", () => {
    const plan = siteUserRemovePlan(ctx());
    const steps = rendered(plan)[0]!.steps;
    expect(steps[0]).toBe("rm -f -- /etc/sudoers.d/brokeforge");
    expect(steps[1]).toMatch(new RegExp(`${escape(quote(UNAUTHORIZE_KEY))} brokeforge /home/brokeforge ${escape(quote(KEY))}$`));
    expect(steps.join("\n")).not.toMatch(/userdel|rm -rf/);
    expect(plan[0]!.removes).toEqual({ type: "site_user", name: "brokeforge" });
    expect(rendered(siteUserRemovePlan(ctx({ siteUserPublicKey: null })))[0]!.steps).toEqual(["rm -f -- /etc/sudoers.d/brokeforge"]);
  });
});

function escape(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("site user scripts, run by a local sh in a temp home", () => {
  const sh = (body: string, ...args: string[]) => spawnSync("sh", ["-c", body, "sh", ...args], { encoding: "utf8" });

  it("authorizes the key once, with 700/600, after a last line without newline; removal keeps the other lines", () => {
    const home = mkdtempSync(join(tmpdir(), "bf-home-"));
    try {
      mkdirSync(join(home, ".ssh"));
      writeFileSync(join(home, ".ssh/authorized_keys"), "ssh-rsa AAAAmine me@laptop");
      expect(sh(AUTHORIZE_KEY, home, KEY).stdout).toBe("Key authorized\n");
      expect(sh(AUTHORIZE_KEY, home, KEY).stdout).toBe("The key is authorized already\n");
      const file = join(home, ".ssh/authorized_keys");
      expect(readFileSync(file, "utf8")).toBe(`ssh-rsa AAAAmine me@laptop\n${KEY}\n`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(home, ".ssh")).mode & 0o777).toBe(0o700);
      expect(sh(UNAUTHORIZE_KEY, home, KEY).status).toBe(0);
      expect(readFileSync(file, "utf8")).toBe("ssh-rsa AAAAmine me@laptop\n");
      expect(sh(UNAUTHORIZE_KEY, home, "ssh-rsa AAAAmine me@laptop").status).toBe(0);
      expect(readFileSync(file, "utf8")).toBe("");
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("makes the deploy key once and keeps it", () => {
    const home = mkdtempSync(join(tmpdir(), "bf-home-"));
    try {
      const key = join(home, ".ssh/id_ed25519");
      expect(sh(ENSURE_DEPLOY_KEY, key).status).toBe(0);
      const pub = readFileSync(`${key}.pub`, "utf8");
      expect(pub).toMatch(/^ssh-ed25519 /);
      expect(statSync(key).mode & 0o777).toBe(0o600);
      expect(sh(ENSURE_DEPLOY_KEY, key).status).toBe(0);
      expect(readFileSync(`${key}.pub`, "utf8")).toBe(pub);
      rmSync(`${key}.pub`); // a lost public half is read back from the private key
      expect(sh(ENSURE_DEPLOY_KEY, key).status).toBe(0);
      expect(readFileSync(`${key}.pub`, "utf8").split(" ").slice(0, 2)).toEqual(pub.split(" ").slice(0, 2));
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("site user package", () => {
  it("is registered with its label and renders as scripts that read back to the same argv", () => {
    expect(siteUser.type).toBe("site_user");
    expect(siteUser.label).toBe("Site user");
    for (const m of [...siteUserInstallPlan(ctx()), ...siteUserRemovePlan(ctx())]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
