// What BrokeForge set up survives a real reboot of a Debian 12 server (systemd-nspawn, see
// harness.ts: `systemctl reboot` inside, nspawn exits 133 and is started again on the same
// disk, as systemd-nspawn@.service does): ufw is active again with the same rules and
// filters, an @reboot task runs, supervisor programs come back, and BrokeForge reconnects.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { programName } from "../../catalogue/packages/supervisor";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, httpGet, OP_TIMEOUT_MS, startHttpService, until } from "./brokeforge";
import { bootDebian, type DebianServer, type DebianServerExtras } from "./harness";

let e: Engine;
let server: DebianServer & DebianServerExtras;
let serverId: string;
const timings: Record<string, number> = {};
const OPEN = 8080; // allowed by a BrokeForge rule
const CLOSED = 8081; // served too, but no rule: default deny
let openPort: number;
let closedPort: number;

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "reboot" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  await startHttpService(server, OPEN, { persistent: true });
  await startHttpService(server, CLOSED, { persistent: true });
  openPort = await server.forward(OPEN);
  closedPort = await server.forward(CLOSED);
  timings.setup = Date.now() - t0;
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian reboot] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

const answers = async (port: number) => (await httpGet(port)).ok;
/** The program's pids, from `supervisorctl status` (`supervisorctl pid` takes no group:* spec). */
const programPids = async () =>
  [...(await server.sh(`supervisorctl status '${programName(programId)}:*' || true`)).matchAll(/ pid (\d+),/g)].map((m) => m[1]).join(" ");
let ruleId: string;
let taskId: string;
let programId: string;
let ufwBefore: string;
let pidsBefore: string;

describe("a real reboot keeps what BrokeForge set up", () => {
  it(
    "sets up firewall + rule, an @reboot task and a supervisor program through BrokeForge",
    async () => {
      const t = Date.now();
      const pkgs = await Promise.all(
        (["firewall", "scheduler", "supervisor"] as const).map((type) => e.api.packages.create({ serverId, type })),
      );
      for (const { id } of pkgs) await until(() => e.db.serverPackage.findUnique({ where: { id } }), "active");
      ruleId = (await e.api.firewall.create({ serverId, name: "web", port: String(OPEN), protocol: "tcp", action: "allow", source: "" }))
        .id;
      taskId = (
        await e.api.scheduler.create({
          serverId,
          name: "at-boot",
          user: "root",
          frequency: "reboot",
          command: "cat /proc/sys/kernel/random/boot_id >> /root/booted",
        })
      ).id;
      programId = (
        await e.api.supervisor.create({
          serverId,
          name: "sleeper",
          command: "/bin/sleep 100000",
          directory: "/root",
          user: "root",
          numprocs: 2,
          autostart: true,
          autorestart: true,
        })
      ).id;
      await until(() => e.db.firewallRule.findUnique({ where: { id: ruleId } }), "active");
      await until(() => e.db.scheduledTask.findUnique({ where: { id: taskId } }), "active");
      await until(() => e.db.supervisorProgram.findUnique({ where: { id: programId } }), "active");
      timings.setupAll = Date.now() - t;

      expect(await answers(openPort)).toBe(true);
      expect(await answers(closedPort)).toBe(false);
      ufwBefore = await server.sh("ufw status verbose");
      pidsBefore = await programPids();
      expect(pidsBefore.split(" ")).toHaveLength(2);
      expect(await server.sh("crontab -l")).toMatch(new RegExp(`^@reboot .* # brokeforge:task:${taskId}$`, "m"));
    },
    3 * OP_TIMEOUT_MS,
  );

  it(
    "after `systemctl reboot`: ufw active with the same rules and filtering, @reboot ran, programs back, BrokeForge reconnects",
    async () => {
      const bootBefore = await server.bootId();
      timings.reboot = await server.reboot();
      const bootAfter = await server.bootId();
      expect(bootAfter).not.toBe(bootBefore);

      expect(await server.sh("ufw status verbose")).toBe(ufwBefore);
      expect(await answers(openPort)).toBe(true);
      expect(await answers(closedPort)).toBe(false);
      await server.sshTrue();

      const booted = await eventually(async () => {
        const r = await server.exec("cat /root/booted");
        return r.exitCode === 0 && r.stdout.includes(bootAfter) ? r.stdout : null;
      }, 30_000);
      expect(booted).not.toContain(bootBefore); // it did not run before the reboot (only at boot)

      const running = await eventually(async () => {
        const out = await server.sh(`supervisorctl status '${programName(programId)}:*' || true`);
        return (out.match(/ RUNNING /g) ?? []).length === 2 ? out : null;
      }, 30_000);
      expect(running).toBeTruthy();
      expect(await programPids()).not.toBe(pidsBefore);

      // BrokeForge: the host key is the same, the connection test passes, and new work goes through
      // (its pooled connection died with the reboot).
      await e.api.servers.testConnection({ id: serverId });
      const s = await eventually(async () => {
        const row = await e.api.servers.byId({ id: serverId });
        return row.connectionStatus === "connected" || row.connectionStatus === "failed" ? row : null;
      }, 60_000);
      expect(s.connectionStatus).toBe("connected");
      await e.api.supervisor.restart({ id: programId });
      await until(() => e.db.supervisorProgram.findUnique({ where: { id: programId } }), "active");
      await e.api.firewall.remove({ id: ruleId });
      await until(() => e.db.firewallRule.findUnique({ where: { id: ruleId } }), "deleted");
      expect(await answers(openPort)).toBe(false);
    },
    3 * OP_TIMEOUT_MS,
  );
});
