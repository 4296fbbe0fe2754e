// Firewall rule input, shared by the browser form, tRPC and the ufw package builders.
// No server imports here: this file is bundled into the browser too.
import { z } from "zod";
import { serverNameSchema } from "./schemas";

export const FIREWALL_PROTOCOLS = ["tcp", "udp", "any"] as const;
export type FirewallProtocol = (typeof FIREWALL_PROTOCOLS)[number];
export const FIREWALL_ACTIONS = ["allow", "deny"] as const;
export type FirewallAction = (typeof FIREWALL_ACTIONS)[number];

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

export function isIPv4(v: string): boolean {
  return IPV4.test(v);
}

/** RFC 4291 text form: 8 groups, at most one `::`, optionally a dotted IPv4 tail. No zone ids. */
export function isIPv6(v: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(v)) return false;
  const halves = v.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groupsOf(halves[0]!);
  const right = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const tailSide = halves.length === 2 ? right : left;
  let count = left.length + right.length;
  if (tailSide.at(-1)?.includes(".")) {
    if (!IPV4.test(tailSide.pop()!)) return false;
    count += 1; // a dotted IPv4 tail takes two groups
  }
  if (![...left, ...right].every((g) => HEX_GROUP.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

const SOURCE_HELP = "Enter an IPv4 or IPv6 address or network, like 203.0.113.7 or 203.0.113.0/24";

/** Why `v` is not a usable ufw source (address or CIDR), or null when it is. Empty means "any" and is handled by the schema. */
export function firewallSourceProblem(v: string): string | null {
  const [addr = "", prefix, extra] = v.split("/");
  if (extra !== undefined) return SOURCE_HELP;
  const v4 = isIPv4(addr);
  if (!v4 && !isIPv6(addr)) return SOURCE_HELP;
  if (prefix === undefined) return null;
  if (!/^(0|[1-9]\d{0,2})$/.test(prefix)) return "The network prefix after / must be a number, like /24";
  const bits = Number(prefix);
  if (bits > (v4 ? 32 : 128)) return `The network prefix must be at most /${v4 ? 32 : 128}`;
  // ufw normalises x/0 to "anywhere": it would collide with the any-source rules (see sshRuleConflict).
  if (bits === 0) return "Leave Source empty to match any address";
  return null;
}

export type ParsedPort = { ok: true; port: string; range: boolean } | { ok: false; message: string };

/** "22", "8000:8100" or "8000-8100" → canonical "22" / "8000:8100" (ufw's range syntax). */
export function parseFirewallPort(input: string): ParsedPort {
  const m = /^(\d{1,5})(?:\s*[:-]\s*(\d{1,5}))?$/.exec(input.trim());
  if (!m) return { ok: false, message: "Enter a port like 443 or a range like 8000:8100" };
  const from = Number(m[1]);
  const to = m[2] === undefined ? undefined : Number(m[2]);
  if ([from, to ?? 1].some((p) => p < 1 || p > 65535)) return { ok: false, message: "Ports must be between 1 and 65535" };
  if (to === undefined) return { ok: true, port: String(from), range: false };
  if (from >= to) return { ok: false, message: "The first port of a range must be lower than the last" };
  return { ok: true, port: `${from}:${to}`, range: true };
}

export const firewallPortSchema = z.preprocess(
  (v) => (typeof v === "number" ? String(v) : v),
  z
    .string({ message: "Port is required" })
    .trim()
    .min(1, "Port is required")
    .transform((v, ctx) => {
      const parsed = parseFirewallPort(v);
      if (parsed.ok) return parsed.port;
      ctx.issues.push({ code: "custom", message: parsed.message, input: v });
      return z.NEVER;
    }),
);

/** Optional; "" / null / missing = any address (stored as null). */
export const firewallSourceSchema = z
  .string({ message: SOURCE_HELP })
  .trim()
  .nullish()
  .transform((v, ctx) => {
    if (!v) return null;
    const problem = firewallSourceProblem(v);
    if (problem === null) return v;
    ctx.issues.push({ code: "custom", message: problem, input: v });
    return z.NEVER;
  });

export const firewallRuleInputSchema = z
  .object({
    name: serverNameSchema,
    port: firewallPortSchema,
    protocol: z.enum(FIREWALL_PROTOCOLS, { message: "Choose TCP, UDP or any" }).default("tcp"),
    action: z.enum(FIREWALL_ACTIONS, { message: "Choose allow or deny" }).default("allow"),
    source: firewallSourceSchema,
  })
  .superRefine((rule, ctx) => {
    // ufw rejects a port range without a protocol ("Must specify 'tcp' or 'udp' with multiple ports").
    if (typeof rule.port === "string" && rule.port.includes(":") && rule.protocol === "any") {
      ctx.addIssue({ code: "custom", path: ["protocol"], message: "A port range needs TCP or UDP (ufw requires a protocol for ranges)" });
    }
  });
export type FirewallRuleInput = z.output<typeof firewallRuleInputSchema>;

/** The fields of a rule that decide what ufw does with it. */
export type FirewallRuleSpec = Pick<FirewallRuleInput, "port" | "protocol" | "action" | "source">;

/** True for a source ufw treats as "anywhere" (null, or any /0 network). */
export function isAnySource(source: string | null | undefined): boolean {
  return !source || /\/0+$/.test(source.trim());
}

/**
 * ufw identifies a rule by (proto, from, to, port); adding a rule whose tuple equals an
 * existing one REPLACES it ("Rule updated": new action, new comment). So a user rule
 * `tcp <sshPort> from any` would overwrite BrokeForge's SSH rule: as `deny` it locks
 * BrokeForge out, as `allow` it takes over the rule, and deleting it later deletes SSH.
 * Returns the message to show, or null when the rule cannot touch the SSH rule.
 * (Any other rule on the SSH port is appended after the SSH rule, and ufw's first match
 * wins, so it cannot block SSH.)
 */
export function sshRuleConflict(rule: FirewallRuleSpec, sshPort: number): string | null {
  if (rule.protocol !== "tcp" || rule.port !== String(sshPort) || !isAnySource(rule.source)) return null;
  return rule.action === "deny"
    ? `This rule would block SSH on port ${sshPort} and lock BrokeForge out of the server`
    : `Port ${sshPort}/tcp is always open: BrokeForge uses it for SSH`;
}
