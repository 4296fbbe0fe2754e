// Full fidelity: a Debian 12 VM under QEMU (Debian's own kernel, a real disk, a real reboot;
// software emulation, so everything is ~10× slower than the nspawn files). The firewall path
// end to end: ufw installed by BrokeForge filters in the VM's own kernel and survives a reboot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, httpGet, startHttpService, until } from "./brokeforge";
import { bootDebian, type DebianServer, type DebianServerExtras } from "./harness";

let e: Engine;
let server: DebianServer & DebianServerExtras;
let serverId: string;
const timings: Record<string, number> = {};
const OPEN = 8080;
const CLOSED = 8081;
let openPort: number;
let closedPort: number;
const VM_OP_TIMEOUT = 12 * 60_000; // apt under software emulation

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "vm", mode: "qemu" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  await startHttpService(server, OPEN, { persistent: true });
  await startHttpService(server, CLOSED, { persistent: true });
  openPort = await server.forward(OPEN);
  closedPort = await server.forward(CLOSED);
  timings.setup = Date.now() - t0;
}, 20 * 60_000);

afterAll(async () => {
  console.log(`[debian vm] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

const answers = async (port: number) => (await httpGet(port, 5_000)).ok;

describe("a Debian 12 VM (QEMU, own kernel)", () => {
  it("runs Debian's kernel, not the host's", async () => {
    expect((await server.sh("uname -r")).trim()).toMatch(/-amd64$/);
    expect(await answers(openPort)).toBe(true);
    expect(await answers(closedPort)).toBe(true);
  });

  it(
    "ufw installed through BrokeForge filters in the VM's kernel; a rule opens exactly its port",
    async () => {
      let t = Date.now();
      const { id } = await e.api.packages.create({ serverId, type: "firewall" });
      await until(() => e.db.serverPackage.findUnique({ where: { id } }), "active", VM_OP_TIMEOUT);
      timings.installUfw = Date.now() - t;
      await server.sshTrue(30_000);
      expect(await answers(openPort)).toBe(false);
      t = Date.now();
      const rule = await e.api.firewall.create({ serverId, name: "web", port: String(OPEN), protocol: "tcp", action: "allow", source: "" });
      await until(() => e.db.firewallRule.findUnique({ where: { id: rule.id } }), "active", VM_OP_TIMEOUT);
      timings.addRule = Date.now() - t;
      expect(await answers(openPort)).toBe(true);
      expect(await answers(closedPort)).toBe(false);
      expect(await server.sh("ufw status")).toMatch(new RegExp(`^${OPEN}/tcp +ALLOW +Anywhere +# brokeforge:${rule.id}$`, "m"));
    },
    2 * VM_OP_TIMEOUT,
  );

  it(
    "after a real reboot: same kernel boot path, ufw active with the same rules, BrokeForge reconnects",
    async () => {
      const before = await server.sh("ufw status verbose");
      timings.reboot = await server.reboot();
      expect(await server.sh("ufw status verbose")).toBe(before);
      expect(await answers(openPort)).toBe(true);
      expect(await answers(closedPort)).toBe(false);
      await server.sshTrue(30_000);
      await e.api.servers.testConnection({ id: serverId });
      const s = await eventually(async () => {
        const row = await e.api.servers.byId({ id: serverId });
        return row.connectionStatus === "connected" || row.connectionStatus === "failed" ? row : null;
      }, 120_000);
      expect(s.connectionStatus).toBe("connected");
    },
    VM_OP_TIMEOUT,
  );
});
