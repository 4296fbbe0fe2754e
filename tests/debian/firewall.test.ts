// The firewall on a real Debian 12 server (systemd-nspawn, see harness.ts): ufw installed and
// driven through BrokeForge, the result read back from the server and checked with real
// TCP traffic from the host through a slirp4netns port forward.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { firewallInstallPlan, firewallRuleAddPlan, sshRuleId } from "../../catalogue/packages/firewall";
import { startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, httpGet, operationEnded, OP_TIMEOUT_MS, runPlanByHand, startHttpService, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
let webPort: number; // host port forwarded to the container's 8080
const GUEST_WEB = 8080;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "firewall" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  await startHttpService(server, GUEST_WEB);
  webPort = await server.forward(GUEST_WEB);
  timings.setup = Date.now() - t0;
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian firewall] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

const rule = (id: string) => e.db.firewallRule.findUnique({ where: { id } });
const pkg = (id: string) => e.db.serverPackage.findUnique({ where: { id } });

/** The rules ufw really has: "<to> <action> <from> # <comment>" per line, v4 and v6. */
async function ufwRules(): Promise<string[]> {
  const out = await server.sh("ufw status");
  return out
    .split("\n")
    .filter((l) => /\s(ALLOW|DENY|REJECT|LIMIT)( IN| OUT)?\s/.test(l))
    .map((l) => l.replace(/\s+/g, " ").trim());
}

/** ufw's rules carrying BrokeForge comments must be exactly the rules BrokeForge has as active. */
async function expectUfwMatchesBrokeForge() {
  // The install brings the SSH rule's row: on ufw it is the `brokeforge-ssh` rule checked below.
  const active = await e.db.firewallRule.findMany({ where: { serverId, status: "active", id: { not: sshRuleId(serverId) } } });
  const lines = await ufwRules();
  const ids = lines.flatMap((l) => /# brokeforge:(\S+)$/.exec(l)?.[1] ?? []);
  // Each rule twice (IPv4 and IPv6) unless its source is one address family; nothing else of ours.
  expect([...ids].sort()).toEqual(active.flatMap((r) => (r.source ? [r.id] : [r.id, r.id])).sort());
  expect(lines.filter((l) => l.endsWith("# brokeforge-ssh"))).toEqual([
    `${server.sshPort}/tcp ALLOW Anywhere # brokeforge-ssh`,
    `${server.sshPort}/tcp (v6) ALLOW Anywhere (v6) # brokeforge-ssh`,
  ]);
  expect(lines.length).toBe(2 + ids.length);
  return lines;
}

const reachable = async () => {
  const r = await httpGet(webPort);
  if (r.ok) expect(r.body).toContain(`hello from ${GUEST_WEB}`);
  return r.ok;
};

async function addRule(input: { name: string; port: string; protocol: "tcp" | "udp" | "any"; action: "allow" | "deny"; source?: string }) {
  const t = Date.now();
  const row = await e.api.firewall.create({ serverId, source: "", ...input });
  await until(() => rule(row.id), "active");
  timings[`rule ${input.name}`] = Date.now() - t;
  return row;
}

async function removeRule(id: string) {
  await e.api.firewall.remove({ id });
  await until(() => rule(id), "deleted");
}

describe("firewall (ufw) on a real Debian 12 server", () => {
  it("the service answers before any firewall exists (the forward really works)", async () => {
    expect(await reachable()).toBe(true);
    expect((await server.exec("command -v ufw")).exitCode).not.toBe(0);
  });

  it(
    "installs ufw through BrokeForge: active, default deny, only the SSH rule, SSH still works",
    async () => {
      const t = Date.now();
      const { id } = await e.api.packages.create({ serverId, type: "firewall" });
      const row = await until(() => pkg(id), "active", OP_TIMEOUT_MS);
      timings.installUfw = Date.now() - t;
      const version = (await server.sh("dpkg-query -W -f='${Version}' ufw")).trim();
      expect((row as unknown as { version: string }).version).toBe(version);

      const verbose = await server.sh("ufw status verbose");
      expect(verbose).toContain("Status: active");
      expect(verbose).toContain("Default: deny (incoming), allow (outgoing)");
      expect(await expectUfwMatchesBrokeForge()).toHaveLength(2);
      await server.sshTrue();
      expect(await reachable()).toBe(false); // default deny, no rule for 8080
      const op = await operationEnded(e, id, "succeeded");
      expect(op.milestones.map((m) => m.name)).toEqual(["install_ufw", "enable_ufw"]);
    },
    OP_TIMEOUT_MS + 30_000,
  );

  it(
    "a deny rule really filters: deny 8080 (any proto) before an allow 8080/tcp keeps the port closed",
    async () => {
      const deny = await addRule({ name: "deny-web", port: String(GUEST_WEB), protocol: "any", action: "deny" });
      await server.sshTrue();
      const allow = await addRule({ name: "allow-web", port: String(GUEST_WEB), protocol: "tcp", action: "allow" });
      await server.sshTrue();
      expect(await reachable()).toBe(false); // ufw: first match wins, and the deny came first
      const lines = await expectUfwMatchesBrokeForge();
      expect(lines).toContain(`${GUEST_WEB} DENY Anywhere # brokeforge:${deny.id}`);
      expect(lines).toContain(`${GUEST_WEB}/tcp ALLOW Anywhere # brokeforge:${allow.id}`);

      // Removing the deny opens the port: the allow alone lets the real connection through.
      await removeRule(deny.id);
      await server.sshTrue();
      expect(await reachable()).toBe(true);
      expect(await ufwRules()).not.toContain(`${GUEST_WEB} DENY Anywhere # brokeforge:${deny.id}`);
      await expectUfwMatchesBrokeForge();

      // Removing the allow closes it again (default deny).
      await removeRule(allow.id);
      await server.sshTrue();
      expect(await reachable()).toBe(false);
      expect(await expectUfwMatchesBrokeForge()).toHaveLength(2);
    },
    3 * OP_TIMEOUT_MS,
  );

  it(
    "deny rules on the SSH port never lock BrokeForge out (SSH rule stays first)",
    async () => {
      // The address SSH connections really come from (slirp4netns' gateway).
      const from = (await server.sh('echo "${SSH_CLIENT%% *}"')).trim();
      expect(from).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const anyProto = await addRule({ name: "deny-ssh-any", port: String(server.sshPort), protocol: "any", action: "deny" });
      const fromClient = await addRule({
        name: "deny-ssh-client",
        port: String(server.sshPort),
        protocol: "tcp",
        action: "deny",
        source: from,
      });
      await server.sshTrue();
      // BrokeForge itself still gets in: a rule removal is an SSH operation.
      await removeRule(fromClient.id);
      await removeRule(anyProto.id);
      await server.sshTrue();
      expect(await expectUfwMatchesBrokeForge()).toHaveLength(2);
    },
    4 * OP_TIMEOUT_MS,
  );

  it("a deny rule that would replace the SSH rule is refused before it reaches the server", async () => {
    await expect(
      e.api.firewall.create({ serverId, name: "lockout", port: String(server.sshPort), protocol: "tcp", action: "deny", source: "" }),
    ).rejects.toThrow(/lock BrokeForge out/);
    await server.sshTrue();
  });

  it(
    "re-running the install and rule milestones by hand (as a retry would) changes nothing",
    async () => {
      const allow = await addRule({ name: "allow-web-again", port: String(GUEST_WEB), protocol: "tcp", action: "allow" });
      const before = await server.sh("ufw status verbose");
      const row = (await rule(allow.id))!;
      const plan = [...firewallInstallPlan({ sshPort: server.sshPort }), ...firewallRuleAddPlan(row, { sshPort: server.sshPort })];
      await runPlanByHand(server, plan);
      expect(await server.sh("ufw status verbose")).toBe(before);
      await runPlanByHand(server, plan);
      expect(await server.sh("ufw status verbose")).toBe(before);
      await expectUfwMatchesBrokeForge();
      await server.sshTrue();
      expect(await reachable()).toBe(true);
      await removeRule(allow.id);
      // Removing a rule that is already gone (a retried removal) succeeds too.
      const { firewallRuleRemovePlan } = await import("../../catalogue/packages/firewall");
      await runPlanByHand(server, firewallRuleRemovePlan(row, { sshPort: server.sshPort }));
      expect(await expectUfwMatchesBrokeForge()).toHaveLength(2);
    },
    3 * OP_TIMEOUT_MS,
  );

  it(
    "uninstalling the firewall through BrokeForge disables and purges ufw: the port answers again",
    async () => {
      const installed = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "firewall" } });
      await e.api.packages.remove({ id: installed.id });
      await until(() => pkg(installed.id), "deleted");
      expect((await server.exec("command -v ufw")).exitCode).not.toBe(0);
      expect(await server.sh("dpkg-query -W -f='${db:Status-Status}' ufw 2>/dev/null || true")).not.toBe("installed");
      await server.sshTrue();
      expect(await reachable()).toBe(true);
    },
    OP_TIMEOUT_MS + 30_000,
  );
});
