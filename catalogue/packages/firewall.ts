// ufw: install/uninstall the firewall and add/remove user rules. Pure builders (no I/O).
//
// SSH safety: the install allows the SSH port BEFORE `ufw enable`, as a rule commented
// `brokeforge-ssh`. User rules carry `brokeforge:<ruleId>` and are appended after it, and
// ufw's first match wins, so no user rule can block SSH — except one with the SSH rule's
// exact tuple (tcp, SSH port, from any): ufw would REPLACE the SSH rule with it. Such rules
// never reach ufw (see sshRuleConflict): adding a deny one throws, an allow one and any
// removal only re-assert the SSH rule. Deletion needs the exact comment, so removing a user
// rule can never delete the SSH rule or a rule a human added.
import {
  FIREWALL_ACTIONS,
  FIREWALL_PROTOCOLS,
  firewallSourceProblem,
  parseFirewallPort,
  sshRuleConflict,
  type FirewallAction,
  type FirewallProtocol,
} from "../../domain/firewall";
import { apt, dpkg } from "../commands";
import { definePackage, milestone, step, type Milestone, type Plan, type Step } from "../kit";

export interface FirewallRule {
  id: string;
  name: string; // display only: never sent to the server
  port: string;
  protocol: FirewallProtocol;
  action: FirewallAction;
  source: string | null;
}

export interface FirewallContext {
  /** The server's SSH port (the port BrokeForge connects to). */
  sshPort: number;
}

/**
 * The firewall_rule rows the install and the web-ports milestone bring along, so the rules
 * provisioning opens appear on the firewall page. Ids are derived from the server id: stable
 * (a re-run finds the same rows) and valid rule ids (`[A-Za-z0-9_-]`, like cuids).
 */
export const sshRuleId = (serverId: string) => `ssh-${serverId}`;
export const httpRuleId = (serverId: string) => `http-${serverId}`;
export const httpsRuleId = (serverId: string) => `https-${serverId}`;

/** The SSH rule as a row: the same tuple as the `brokeforge-ssh` rule, so removing the row only re-asserts it. */
export function sshRuleRow(serverId: string, sshPort: number): FirewallRule {
  assertSshPort(sshPort);
  const id = sshRuleId(serverId);
  assertId(id);
  return { id, name: "SSH", port: String(sshPort), protocol: "tcp", action: "allow", source: null };
}

/** No ":" after "brokeforge", so it can never equal a user rule's `brokeforge:<ruleId>`. */
export const SSH_RULE_COMMENT = "brokeforge-ssh";

// `ufw delete <spec>` of a rule that is not there prints "Could not delete non-existent
// rule" (exit 0 on current ufw; tolerated either way) — a retried removal must succeed.
// `--force`: never prompt (stdin is /dev/null on the server).
export const UFW_DELETE = [
  'command -v ufw >/dev/null 2>&1 || { echo "ufw is not installed: nothing to delete"; exit 0; }',
  'out=$(ufw --force delete "$@" 2>&1); rc=$?',
  "printf '%s\\n' \"$out\"",
  'case $out in *"non-existent rule"*) exit 0 ;; esac',
  'exit "$rc"',
].join("\n");

export const UFW_DISABLE = 'if command -v ufw >/dev/null 2>&1; then ufw --force disable; else echo "ufw is not installed"; fi';

function assertId(id: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`firewall: bad rule id ${JSON.stringify(id)}`);
}

function assertSshPort(port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`firewall: bad SSH port ${port}`);
}

/** ufw's full rule syntax. `proto any` is not valid ufw syntax: "any" omits proto. */
function ruleSpec(rule: Pick<FirewallRule, "action" | "protocol" | "source" | "port">, comment: string): string[] {
  return [
    rule.action,
    ...(rule.protocol === "any" ? [] : ["proto", rule.protocol]),
    "from",
    rule.source ?? "any",
    "to",
    "any",
    "port",
    rule.port,
    "comment",
    comment,
  ];
}

export function sshRuleArgs(sshPort: number): string[] {
  assertSshPort(sshPort);
  return ruleSpec({ action: "allow", protocol: "tcp", source: null, port: String(sshPort) }, SSH_RULE_COMMENT);
}

/** The rule's ufw arguments (after `ufw`), validated again: the row may predate the schema. */
export function userRuleArgs(rule: FirewallRule): string[] {
  assertId(rule.id);
  if (!FIREWALL_ACTIONS.includes(rule.action)) throw new Error(`firewall: bad action ${JSON.stringify(rule.action)}`);
  if (!FIREWALL_PROTOCOLS.includes(rule.protocol)) throw new Error(`firewall: bad protocol ${JSON.stringify(rule.protocol)}`);
  const port = parseFirewallPort(rule.port);
  if (!port.ok || port.port !== rule.port) throw new Error(`firewall: bad port ${JSON.stringify(rule.port)}`);
  if (port.range && rule.protocol === "any") throw new Error("firewall: a port range needs tcp or udp");
  const problem = rule.source === null ? null : firewallSourceProblem(rule.source);
  if (problem) throw new Error(`firewall: bad source ${JSON.stringify(rule.source)}: ${problem}`);
  return ruleSpec(rule, `brokeforge:${rule.id}`);
}

function describe(rule: FirewallRule): string {
  const proto = rule.protocol === "any" ? "" : `/${rule.protocol}`;
  return `${rule.action} ${rule.port}${proto} from ${rule.source ?? "anywhere"}`;
}

function keepSsh(sshPort: number): Step {
  return step(`Keeping SSH port ${sshPort}/tcp open`, "ufw", ...sshRuleArgs(sshPort));
}

/**
 * With `serverId`, the enabling milestone brings the SSH rule's row (firewall page); without,
 * it brings nothing (a plan run by hand in tests).
 */
export function firewallInstallPlan({ sshPort, serverId }: FirewallContext & { serverId?: string }): Plan {
  assertSshPort(sshPort);
  const brings = serverId === undefined ? {} : { brings: { kind: "firewall_rule", rows: [{ ...sshRuleRow(serverId, sshPort) }] } };
  return [
    milestone("install_ufw", "Installing ufw", [apt.update(), ...apt.install(["ufw"])]),
    milestone(
      "enable_ufw",
      "Enabling the firewall",
      [
        // Before enabling, or enabling would cut the connection we are using.
        step(`Allowing SSH on port ${sshPort}/tcp`, "ufw", ...sshRuleArgs(sshPort)),
        step("Denying incoming traffic by default", "ufw", "default", "deny", "incoming"),
        step("Allowing outgoing traffic by default", "ufw", "default", "allow", "outgoing"),
        step("Enabling ufw", "ufw", "--force", "enable"),
        dpkg.version("ufw"),
      ],
      {
        records: {
          type: "firewall",
          name: "ufw",
          versionFrom: "version",
          configuration: { sshPort, defaultIncoming: "deny", defaultOutgoing: "allow" },
        },
        ...brings,
      },
    ),
  ];
}

/**
 * Opens 80/tcp and 443/tcp as ordinary BrokeForge rules (`brokeforge:<rowId>` comments) and
 * brings their rows, so they are listed and removable like rules the user added. Provisioning
 * puts it after the firewall install for roles with nginx. Given the SSH port, a web port that
 * IS the SSH port only re-asserts the SSH rule and brings no second row for the same tuple.
 */
export function firewallWebPortsMilestone(serverId: string, sshPort?: number): Milestone {
  const rows: FirewallRule[] = [
    { id: httpRuleId(serverId), name: "HTTP", port: "80", protocol: "tcp", action: "allow", source: null },
    { id: httpsRuleId(serverId), name: "HTTPS", port: "443", protocol: "tcp", action: "allow", source: null },
  ];
  const opened = sshPort === undefined ? rows : rows.filter((r) => sshRuleConflict(r, sshPort) === null);
  const steps = rows.map((r) =>
    opened.includes(r) ? step(`Allowing ${r.name} on port ${r.port}/tcp`, "ufw", ...userRuleArgs(r)) : keepSsh(sshPort!),
  );
  return milestone("firewall_web_ports", "Opening HTTP and HTTPS", steps, {
    brings: { kind: "firewall_rule", rows: opened.map((r) => ({ ...r })) },
  });
}

/** Disables the firewall (nothing is filtered any more) and purges ufw with its rules. */
export function firewallUninstallPlan(): Plan {
  return [
    milestone("remove_ufw", "Removing ufw", [step("Disabling ufw", "sh", "-c", UFW_DISABLE, "sh"), ...apt.purge(["ufw"])], {
      removes: { type: "firewall", name: "ufw" },
    }),
  ];
}

export function firewallRuleAddPlan(rule: FirewallRule, { sshPort }: FirewallContext): Plan {
  const args = userRuleArgs(rule);
  const conflict = sshRuleConflict(rule, sshPort);
  if (conflict && rule.action === "deny") throw new Error(conflict);
  return [
    {
      name: "add_rule",
      label: "Adding firewall rule",
      steps: [conflict ? keepSsh(sshPort) : step(`Adding rule: ${describe(rule)}`, "ufw", ...args)],
    },
  ];
}

export function firewallRuleRemovePlan(rule: FirewallRule, { sshPort }: FirewallContext): Plan {
  const args = userRuleArgs(rule);
  const conflict = sshRuleConflict(rule, sshPort) !== null;
  return [
    {
      name: "remove_rule",
      label: "Removing firewall rule",
      steps: [conflict ? keepSsh(sshPort) : step(`Removing rule: ${describe(rule)}`, "sh", "-c", UFW_DELETE, "sh", ...args)],
    },
  ];
}

export const firewall = definePackage({
  type: "firewall",
  name: "ufw",
  label: "Firewall",
  description: "ufw: incoming traffic denied except SSH and the rules you add.",
  aptPackages: ["ufw"],
  requires: [],
  install: ({ server }) => firewallInstallPlan({ sshPort: server.sshPort, serverId: server.id }),
  remove: () => firewallUninstallPlan(),
});
