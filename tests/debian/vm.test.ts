// Full fidelity: a Debian 12 VM under QEMU (Debian's own kernel, a real disk, a real reboot;
// software emulation, so everything is ~10× slower than the nspawn files). The firewall path
// end to end: ufw installed by BrokeForge filters in the VM's own kernel and survives a reboot.
// And the swap path, which only a VM can prove (nspawn containers share the host's kernel, which
// refuses swapon there): base's swap milestone makes a RAM-sized swap file, in /etc/fstab once,
// active again after the reboot; re-running it changes nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseInstallPlan, SWAP_FILE } from "../../catalogue/packages/base";
import { loadServerFacts } from "../../core/server-facts";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, httpGet, runPlanByHand, startHttpService, until } from "./brokeforge";
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
    "base's swap milestone makes a RAM-sized swap file (1–2 GiB), in /etc/fstab once; a re-run changes nothing",
    async () => {
      // Only base's swap milestone, rendered as the engine renders it: the whole base package
      // (python3 for unattended-upgrades and fail2ban) took longer than the 600 s operation
      // timeout under software emulation on a loaded machine.
      const facts = await loadServerFacts(serverId, e.db);
      const swap = baseInstallPlan({ server: facts! }).filter((m) => m.name === "base_swap");
      expect(swap).toHaveLength(1);
      // The rule: RAM-sized, at least 1 GiB, at most 2 GiB (MemTotal is in KiB).
      const memKib = Number(/^MemTotal:\s+(\d+) kB$/m.exec(await server.sh("cat /proc/meminfo"))?.[1]);
      const sizeMib = Math.min(2048, Math.max(1024, Math.floor(memKib / 1024)));
      expect((await server.sh("swapon --show=NAME --noheadings")).trim()).toBe(""); // no swap before
      const t = Date.now();
      expect((await runPlanByHand(server, swap)).join("\n")).toContain(`Swap on ${SWAP_FILE}`);
      timings.swap = Date.now() - t;
      // The file is the rule's size; the only swap in use is that file (swapon leaves mkswap's
      // header page out of its size).
      const bytes = sizeMib * 1024 * 1024;
      expect((await server.sh(`stat -c '%s %a %U' ${SWAP_FILE}`)).trim()).toBe(`${bytes} 600 root`);
      const active = (await server.sh("swapon --show=NAME,SIZE --bytes --noheadings --raw")).trim().split("\n");
      expect(active.map((l) => l.split(" ")[0])).toEqual([SWAP_FILE]);
      const activeBytes = Number(active[0]!.split(" ")[1]);
      expect(activeBytes).toBeGreaterThan(bytes - 1024 * 1024);
      expect(activeBytes).toBeLessThanOrEqual(bytes);
      const swapLines = (fstab: string) => fstab.split("\n").filter((l) => l.trim().split(/\s+/)[0] === SWAP_FILE);
      const fstab = await server.sh("cat /etc/fstab");
      expect(swapLines(fstab)).toEqual([`${SWAP_FILE} none swap sw 0 0`]);

      // A re-run (what a retry does): the same milestone again changes nothing.
      const stamp = `stat -c '%i %Y %s' ${SWAP_FILE} /etc/fstab`;
      const before = await server.sh(stamp);
      expect((await runPlanByHand(server, swap)).join("\n")).toContain(`Swap exists already: ${SWAP_FILE}`);
      expect(await server.sh(stamp)).toBe(before); // same file, same fstab, untouched
      expect(await server.sh("cat /etc/fstab")).toBe(fstab);
      expect((await server.sh("swapon --show=NAME --noheadings")).trim()).toBe(SWAP_FILE);
      expect((await server.exec(`test -e ${SWAP_FILE}.brokeforge-tmp`)).exitCode).toBe(1); // no second file made
    },
    VM_OP_TIMEOUT,
  );

  it(
    "after a real reboot: same kernel boot path, ufw active with the same rules, swap back from fstab, BrokeForge reconnects",
    async () => {
      const before = await server.sh("ufw status verbose");
      timings.reboot = await server.reboot();
      expect(await server.sh("ufw status verbose")).toBe(before);
      expect((await server.sh("swapon --show=NAME --noheadings")).trim()).toBe(SWAP_FILE);
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
