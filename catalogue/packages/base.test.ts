import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import {
  AUTO_UPGRADES,
  base,
  baseInstallPlan,
  baseRemovePlan,
  ENSURE_SWAP,
  FAIL2BAN_APPLY,
  fail2banJail,
  SECURITY_ONLY,
  SET_UTC,
} from "./base";
import type { Plan } from "../kit";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { WRITE_FILE_IF_CHANGED } from "../commands/files";

function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}
const write = (path: string, content: string) => `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh ${path} ${quote(content)} 0644 '' ''`;
const ctx = { server: { id: "clsrv1", sshPort: 2222, sshUser: "root" } };

const JAIL = `# Managed by BrokeForge: changes here are overwritten.
[DEFAULT]
banaction = nftables-multiport
banaction_allports = nftables-allports

[sshd]
enabled = true
backend = systemd
port = 2222
maxretry = 5
findtime = 10m
bantime = 1h
`;

describe("base", () => {
  it("installs the tools, sets UTC, adds swap, turns on security updates and fail2ban", () => {
    const plan = baseInstallPlan(ctx);
    expect(rendered(plan)).toEqual([
      {
        name: "base_tools",
        label: "Installing base tools",
        steps: [SH_APT_UPDATE, ...shAptInstall("curl", "git", "unzip", "ca-certificates", "gnupg", "acl", "tzdata")],
      },
      {
        name: "base_timezone",
        label: "Setting the timezone to UTC",
        steps: [`sh -c ${quote(SET_UTC)} sh`, write("/etc/timezone", "Etc/UTC\n")],
      },
      { name: "base_swap", label: "Adding a swap file", steps: [`sh -c ${quote(ENSURE_SWAP)} sh /swapfile`] },
      {
        name: "base_security_updates",
        label: "Turning on automatic security updates",
        steps: [
          ...shAptInstall("unattended-upgrades"),
          write("/etc/apt/apt.conf.d/20auto-upgrades", AUTO_UPGRADES),
          write("/etc/apt/apt.conf.d/52brokeforge-security-only", SECURITY_ONLY),
        ],
      },
      {
        name: "base_fail2ban",
        label: "Protecting SSH with fail2ban",
        steps: [
          ...shAptInstall("fail2ban", "python3-systemd", "nftables"),
          write("/etc/fail2ban/jail.d/brokeforge.local", JAIL),
          `sh -c ${quote(FAIL2BAN_APPLY)} sh`,
          "dpkg-query -W '-f=${Version}' fail2ban",
          "swapon '--show=NAME,SIZE' --noheadings",
        ],
      },
    ]);
    expect(plan.at(-1)!.records).toEqual({
      type: "base",
      name: "base",
      versionFrom: "version",
      configuration: { timezone: "Etc/UTC" },
      configurationFrom: { swap: "swap" },
    });
    expect(
      plan
        .at(-1)!
        .steps.map((s) => s.output)
        .filter(Boolean),
    ).toEqual(["version", "swap"]);
  });

  it("writes the apt periodic settings and limits automatic upgrades to security archives", () => {
    expect(AUTO_UPGRADES).toBe(
      '// Managed by BrokeForge: changes here are overwritten.\nAPT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n',
    );
    expect(SECURITY_ONLY).toBe(`// Managed by BrokeForge: changes here are overwritten.
// Only security updates are installed automatically.
#clear Unattended-Upgrade::Origins-Pattern;
Unattended-Upgrade::Origins-Pattern {
        "origin=Debian,codename=\${distro_codename}-security,label=Debian-Security";
        "origin=Debian,codename=\${distro_codename},label=Debian-Security";
        "origin=Ubuntu,archive=\${distro_codename}-security,label=Ubuntu";
};
`);
  });

  it("the jail watches the server's SSH port through the journal", () => {
    expect(fail2banJail(2222)).toBe(JAIL);
    expect(() => fail2banJail(0)).toThrow(/bad SSH port/);
    expect(() => baseInstallPlan({ server: { ...ctx.server, sshPort: 70000 } })).toThrow(/bad SSH port/);
  });

  it("removal deletes BrokeForge's files, purges fail2ban and unattended-upgrades, keeps tools and swap", () => {
    const plan = baseRemovePlan();
    expect(rendered(plan)).toEqual([
      {
        name: "base_remove",
        label: "Removing fail2ban and automatic updates",
        steps: [
          "rm -f -- /etc/fail2ban/jail.d/brokeforge.local /etc/apt/apt.conf.d/20auto-upgrades /etc/apt/apt.conf.d/52brokeforge-security-only",
          ...shAptPurge("fail2ban", "unattended-upgrades"),
        ],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "base", name: "base" });
  });

  it("is registered as the base package", () => {
    expect(base.type).toBe("base");
    expect(base.label).toBe("Base system");
    expect(base.aptPackages).toContain("fail2ban");
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    for (const m of [...baseInstallPlan(ctx), ...baseRemovePlan()]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
