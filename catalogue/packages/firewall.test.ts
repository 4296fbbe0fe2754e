import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import {
  firewallInstallPlan,
  firewallRuleAddPlan,
  firewallRuleRemovePlan,
  firewallUninstallPlan,
  firewallWebPortsMilestone,
  sshRuleRow,
  UFW_DELETE,
  UFW_DISABLE,
  type FirewallRule,
} from "./firewall";
import type { Plan } from "../kit";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";

/** Each milestone as name, label and the exact shell text of each step. */
function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}

const DELETE = `sh -c ${quote(UFW_DELETE)} sh`;
const ssh = { sshPort: 22 };
const rule = (over: Partial<FirewallRule> = {}): FirewallRule => ({
  id: "clx1rule",
  name: "web",
  port: "443",
  protocol: "tcp",
  action: "allow",
  source: null,
  ...over,
});

describe("firewallInstallPlan", () => {
  it("installs ufw, allows SSH before enabling, sets defaults, enables", () => {
    const plan = firewallInstallPlan({ sshPort: 2222 });
    expect(rendered(plan)).toEqual([
      {
        name: "install_ufw",
        label: "Installing ufw",
        steps: [SH_APT_UPDATE, ...shAptInstall("ufw")],
      },
      {
        name: "enable_ufw",
        label: "Enabling the firewall",
        steps: [
          "ufw allow proto tcp from any to any port 2222 comment brokeforge-ssh",
          "ufw default deny incoming",
          "ufw default allow outgoing",
          "ufw --force enable",
          "dpkg-query -W '-f=${Version}' ufw",
        ],
      },
    ]);
    expect(plan[1]!.records).toEqual({
      type: "firewall",
      name: "ufw",
      versionFrom: "version",
      configuration: { sshPort: 2222, defaultIncoming: "deny", defaultOutgoing: "allow" },
    });
    expect(plan[1]!.steps[4]!.argv[0]).toBe("dpkg-query");
    const steps = plan[1]!.steps.map((s) => toShell(s.argv));
    expect(steps.findIndex((s) => s.includes("port 2222"))).toBeLessThan(steps.indexOf("ufw --force enable"));
  });

  it("given the server id, brings the SSH rule's row so it is listed on the firewall page", () => {
    const plan = firewallInstallPlan({ sshPort: 2222, serverId: "clsrv1" });
    expect(plan[0]!.brings).toBeUndefined();
    expect(plan[1]!.brings).toEqual({
      kind: "firewall_rule",
      rows: [{ id: "ssh-clsrv1", name: "SSH", port: "2222", protocol: "tcp", action: "allow", source: null }],
    });
    expect(rendered(plan)).toEqual(rendered(firewallInstallPlan({ sshPort: 2222 })));
    expect(firewallInstallPlan({ sshPort: 2222 })[1]!.brings).toBeUndefined();
    expect(() => firewallInstallPlan({ sshPort: 22, serverId: "a b" })).toThrow(/bad rule id/);
  });

  it("removing the SSH rule's row never deletes the SSH rule: it only re-asserts it", () => {
    const row = sshRuleRow("clsrv1", 2222);
    expect(rendered(firewallRuleRemovePlan(row, { sshPort: 2222 }))).toEqual([
      {
        name: "remove_rule",
        label: "Removing firewall rule",
        steps: ["ufw allow proto tcp from any to any port 2222 comment brokeforge-ssh"],
      },
    ]);
  });

  it.each([0, 65536, 22.5, NaN])("rejects SSH port %s", (sshPort) => {
    expect(() => firewallInstallPlan({ sshPort })).toThrow(/bad SSH port/);
  });
});

describe("firewallWebPortsMilestone", () => {
  it("opens 80 and 443 as BrokeForge rules named after their rows, and brings the rows", () => {
    const m = firewallWebPortsMilestone("clsrv1");
    expect(rendered([m])).toEqual([
      {
        name: "firewall_web_ports",
        label: "Opening HTTP and HTTPS",
        steps: [
          "ufw allow proto tcp from any to any port 80 comment brokeforge:http-clsrv1",
          "ufw allow proto tcp from any to any port 443 comment brokeforge:https-clsrv1",
        ],
      },
    ]);
    expect(m.brings).toEqual({
      kind: "firewall_rule",
      rows: [
        { id: "http-clsrv1", name: "HTTP", port: "80", protocol: "tcp", action: "allow", source: null },
        { id: "https-clsrv1", name: "HTTPS", port: "443", protocol: "tcp", action: "allow", source: null },
      ],
    });
    expect(rendered([firewallWebPortsMilestone("clsrv1", 22)])).toEqual(rendered([m]));
    // each row's removal deletes exactly the rule the milestone added
    const remove = firewallRuleRemovePlan(m.brings!.rows[1] as unknown as FirewallRule, ssh)[0]!.steps[0]!.argv;
    expect(remove.slice(4)).toEqual(m.steps[1]!.argv.slice(1));
  });

  it("an SSH port of 443 stays the SSH rule: re-asserted, no HTTPS row for the same tuple", () => {
    const m = firewallWebPortsMilestone("clsrv1", 443);
    expect(rendered([m])[0]!.steps).toEqual([
      "ufw allow proto tcp from any to any port 80 comment brokeforge:http-clsrv1",
      "ufw allow proto tcp from any to any port 443 comment brokeforge-ssh",
    ]);
    expect(m.brings!.rows.map((r) => r.id)).toEqual(["http-clsrv1"]);
  });

  it("refuses a server id that cannot be a rule id", () => {
    expect(() => firewallWebPortsMilestone("x'; reboot")).toThrow(/bad rule id/);
  });
});

describe("firewallUninstallPlan", () => {
  it("disables (if present) then purges, and drops the inventory row", () => {
    const plan = firewallUninstallPlan();
    expect(rendered(plan)).toEqual([
      { name: "remove_ufw", label: "Removing ufw", steps: [`sh -c ${quote(UFW_DISABLE)} sh`, ...shAptPurge("ufw")] },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "firewall", name: "ufw" });
  });
});

describe("firewall rule plans", () => {
  it.each([
    [rule(), "ufw allow proto tcp from any to any port 443 comment brokeforge:clx1rule"],
    [rule({ protocol: "udp", port: "60000:61000" }), "ufw allow proto udp from any to any port 60000:61000 comment brokeforge:clx1rule"],
    // `proto any` is not ufw syntax: any protocol = no proto at all.
    [rule({ protocol: "any", port: "53" }), "ufw allow from any to any port 53 comment brokeforge:clx1rule"],
    [
      rule({ action: "deny", source: "203.0.113.0/24" }),
      "ufw deny proto tcp from 203.0.113.0/24 to any port 443 comment brokeforge:clx1rule",
    ],
    [rule({ source: "2001:db8::1" }), "ufw allow proto tcp from 2001:db8::1 to any port 443 comment brokeforge:clx1rule"],
    [rule({ source: "::ffff:192.0.2.1/128" }), "ufw allow proto tcp from ::ffff:192.0.2.1/128 to any port 443 comment brokeforge:clx1rule"],
  ])("adds %j with ufw's full syntax", (r, expected) => {
    expect(rendered(firewallRuleAddPlan(r, ssh))).toEqual([{ name: "add_rule", label: "Adding firewall rule", steps: [expected] }]);
  });

  it("removes exactly the same spec, comment included, tolerating an absent rule", () => {
    const r = rule({ protocol: "udp", port: "1000:2000", action: "deny", source: "10.0.0.0/8" });
    expect(rendered(firewallRuleRemovePlan(r, ssh))).toEqual([
      {
        name: "remove_rule",
        label: "Removing firewall rule",
        steps: [`${DELETE} deny proto udp from 10.0.0.0/8 to any port 1000:2000 comment brokeforge:clx1rule`],
      },
    ]);
    // the add and remove specs are the same words
    const add = firewallRuleAddPlan(r, ssh)[0]!.steps[0]!.argv;
    const remove = firewallRuleRemovePlan(r, ssh)[0]!.steps[0]!.argv;
    expect(remove.slice(4)).toEqual(add.slice(1));
  });

  it("never touches the SSH rule: same-tuple allow/remove only re-assert it, deny is refused", () => {
    const same = rule({ port: "2222", protocol: "tcp", source: null });
    const keep = "ufw allow proto tcp from any to any port 2222 comment brokeforge-ssh";
    expect(rendered(firewallRuleAddPlan(same, { sshPort: 2222 }))[0]!.steps).toEqual([keep]);
    expect(rendered(firewallRuleRemovePlan(same, { sshPort: 2222 }))[0]!.steps).toEqual([keep]);
    expect(rendered(firewallRuleRemovePlan({ ...same, action: "deny" }, { sshPort: 2222 }))[0]!.steps).toEqual([keep]);
    expect(() => firewallRuleAddPlan({ ...same, action: "deny" }, { sshPort: 2222 })).toThrow(/lock BrokeForge out/);
    // other rules on the SSH port are ordinary (appended after the SSH rule; first match wins)
    expect(rendered(firewallRuleAddPlan({ ...same, action: "deny", source: "198.51.100.7" }, { sshPort: 2222 }))[0]!.steps).toEqual([
      "ufw deny proto tcp from 198.51.100.7 to any port 2222 comment brokeforge:clx1rule",
    ]);
    expect(rendered(firewallRuleAddPlan({ ...same, protocol: "any" }, { sshPort: 2222 }))[0]!.steps).toEqual([
      "ufw allow from any to any port 2222 comment brokeforge:clx1rule",
    ]);
  });

  it.each<[string, Partial<FirewallRule>]>([
    ["id with a quote", { id: "a'b" }],
    ["id with a space", { id: "a b" }],
    ["empty id", { id: "" }],
    ["port injection", { port: "22; reboot" }],
    ["port not canonical", { port: "8000-8100" }],
    ["port out of range", { port: "70000" }],
    ["range with any", { protocol: "any", port: "1:2" }],
    ["source injection", { source: "1.2.3.4 to any port 22" }],
    ["source option", { source: "-h" }],
    ["source /0", { source: "0.0.0.0/0" }],
    ["bad protocol", { protocol: "icmp" as never }],
    ["bad action", { action: "reject" as never }],
  ])("rejects a rule with %s", (_what, over) => {
    expect(() => firewallRuleAddPlan(rule(over), ssh)).toThrow(/firewall: /);
    expect(() => firewallRuleRemovePlan(rule(over), ssh)).toThrow(/firewall: /);
  });

  it("never sends the rule's display name to the server", () => {
    const name = "NAME'$(touch /tmp/pwned)`id`\n;rm -rf /";
    for (const plan of [firewallRuleAddPlan(rule({ name }), ssh), firewallRuleRemovePlan(rule({ name }), ssh)]) {
      expect(script(plan[0]!.steps).command).not.toContain("NAME");
    }
  });

  it("renders as a script whose steps read back to the same argv", () => {
    for (const plan of [
      firewallInstallPlan(ssh),
      firewallUninstallPlan(),
      firewallRuleRemovePlan(rule({ source: "2001:db8::/48" }), ssh),
    ]) {
      for (const m of plan) {
        const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
        expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
      }
    }
  });
});
