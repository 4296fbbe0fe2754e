// Supervisor programs on a real Debian 12 server (systemd-nspawn, see harness.ts): supervisor
// installed through BrokeForge, programs created/restarted/removed through BrokeForge, and
// their real state (supervisorctl, processes, config files) read back from the server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  programConfig,
  programConfPath,
  programInstallPlan,
  programName,
  programRemovePlan,
  supervisorInstallPlan,
} from "../../catalogue/packages/supervisor";
import { startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, operationEnded, OP_TIMEOUT_MS, runPlanByHand, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
const timings: Record<string, number> = {};
const USER = "deployer";
const DIR = "/srv/app";

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "supervisor" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  await server.sh(`useradd --create-home --shell /bin/bash ${USER} && mkdir -p ${DIR} && chown ${USER}: ${DIR}`);
  timings.setup = Date.now() - t0;
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian supervisor] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

const program = (id: string) => e.db.supervisorProgram.findUnique({ where: { id } });
const pkg = (id: string) => e.db.serverPackage.findUnique({ where: { id } });

/** `supervisorctl status` for one program: process name → { state, pid }. */
async function status(id: string): Promise<Record<string, { state: string; pid: number | null }>> {
  const name = programName(id);
  const r = await server.exec(`supervisorctl status '${name}:*'`);
  const out: Record<string, { state: string; pid: number | null }> = {};
  if (r.stdout.includes(`${name}: ERROR (no such group)`)) return out; // supervisor does not know it (any more)
  for (const line of r.stdout.split("\n")) {
    const m = /^(\S+)\s+([A-Z]+)\s*(?:pid (\d+))?/.exec(line);
    if (!m) continue;
    if (!new RegExp(`^${name}:${name}_\\d\\d$`).test(m[1]!)) throw new Error(`unexpected supervisorctl status line: ${line}`);
    out[m[1]!] = { state: m[2]!, pid: m[3] ? Number(m[3]) : null };
  }
  return out;
}

const pidsOf = async (id: string) => Object.values(await status(id)).map((s) => s.pid);

let good: string;

describe("supervisor on a real Debian 12 server", () => {
  it(
    "installs supervisor through BrokeForge: installed, enabled and running",
    async () => {
      expect((await server.exec("command -v supervisorctl")).exitCode).not.toBe(0);
      const t = Date.now();
      const { id } = await e.api.packages.create({ serverId, type: "supervisor" });
      const row = await until(() => pkg(id), "active");
      timings.installSupervisor = Date.now() - t;
      expect((row as unknown as { version: string }).version).toBe((await server.sh("dpkg-query -W -f='${Version}' supervisor")).trim());
      expect((await server.sh("systemctl is-active supervisor; systemctl is-enabled supervisor")).trim().split("\n")).toEqual([
        "active",
        "enabled",
      ]);
    },
    OP_TIMEOUT_MS,
  );

  it(
    "a program reaches RUNNING with the configured number of processes, as its user, in its directory",
    async () => {
      const t = Date.now();
      const created = await e.api.supervisor.create({
        serverId,
        name: "ticker",
        command: `/bin/sh -c 'while :; do echo "tick from $(pwd) 100%"; sleep 2; done'`,
        directory: DIR,
        user: USER,
        numprocs: 2,
        autostart: true,
        autorestart: true,
      });
      good = created.id;
      await until(() => program(good), "active");
      timings.createProgram = Date.now() - t;

      const st = await status(good);
      const name = programName(good);
      expect(Object.keys(st).sort()).toEqual([`${name}:${name}_00`, `${name}:${name}_01`]);
      expect(Object.values(st).every((s) => s.state === "RUNNING" && s.pid! > 1)).toBe(true);
      for (const { pid } of Object.values(st)) {
        expect((await server.sh(`ps -o user= -p ${pid}`)).trim()).toBe(USER);
        expect((await server.sh(`readlink /proc/${pid}/cwd`)).trim()).toBe(DIR);
      }
      // The config on disk is exactly what BrokeForge renders; the log gets the output ("%" kept literal).
      expect(await server.sh(`cat ${programConfPath(good)}`)).toBe(programConfig((await program(good))!));
      const log = await server.sh(`sleep 1; cat /var/log/brokeforge/${name}_00.log`);
      expect(log).toContain(`tick from ${DIR} 100%`);
    },
    OP_TIMEOUT_MS,
  );

  it(
    "restart gives new processes (pids change), still all RUNNING",
    async () => {
      const before = await pidsOf(good);
      await e.api.supervisor.restart({ id: good });
      await until(() => program(good), "active");
      const st = await status(good);
      expect(Object.values(st).map((s) => s.state)).toEqual(["RUNNING", "RUNNING"]);
      const after = Object.values(st).map((s) => s.pid);
      for (const pid of after) expect(before).not.toContain(pid);
      for (const pid of before) expect((await server.exec(`kill -0 ${pid}`)).exitCode).not.toBe(0);
    },
    OP_TIMEOUT_MS,
  );

  it(
    "re-running the install milestones by hand (as a retry would) changes nothing, not even the pids",
    async () => {
      const row = (await program(good))!;
      const snapshot = async () =>
        [
          await server.sh(`cat ${programConfPath(good)}`),
          JSON.stringify(await status(good)),
          await server.sh("ls /etc/supervisor/conf.d"),
        ].join("\n---\n");
      const before = await snapshot();
      for (const plan of [supervisorInstallPlan(), programInstallPlan(row)]) {
        await runPlanByHand(server, plan);
        await runPlanByHand(server, plan);
        expect(await snapshot()).toBe(before);
      }
    },
    3 * OP_TIMEOUT_MS,
  );

  it(
    "a program whose command fails ends failed in BrokeForge with the real error text",
    async () => {
      const t = Date.now();
      const bad = await e.api.supervisor.create({
        serverId,
        name: "broken",
        command: `/bin/sh -c 'echo "fatal: cannot read /etc/app/config.yml" >&2; exit 3'`,
        directory: DIR,
        user: USER,
        numprocs: 1,
        autostart: true,
        autorestart: true,
      });
      const row = await until(() => program(bad.id), "failed");
      timings.failingProgram = Date.now() - t;
      expect(row!.errorLog).toContain("fatal: cannot read /etc/app/config.yml");
      expect(row!.errorLog).toMatch(/did not reach RUNNING/);
      expect(row!.errorLog).toMatch(/failed 3 times/);
      const op = await operationEnded(e, bad.id, "failed");
      expect(op.errorLog).toContain("fatal: cannot read /etc/app/config.yml");
      // Removing the failed program cleans the server up.
      await e.api.supervisor.remove({ id: bad.id });
      await until(() => program(bad.id), "deleted");
      expect((await server.exec(`test -e ${programConfPath(bad.id)}`)).exitCode).not.toBe(0);
      expect(await status(bad.id)).toEqual({});
    },
    2 * OP_TIMEOUT_MS,
  );

  it(
    "a program whose command does not exist fails with supervisor's own error",
    async () => {
      const bad = await e.api.supervisor.create({
        serverId,
        name: "missing",
        command: "/usr/local/bin/not-installed --serve",
        directory: DIR,
        user: USER,
        numprocs: 1,
        autostart: true,
        autorestart: false,
      });
      const row = await until(() => program(bad.id), "failed");
      expect(row!.errorLog).toMatch(/not-installed/);
      console.log(`[debian supervisor] missing command error: ${row!.errorLog}`);
      await e.api.supervisor.remove({ id: bad.id });
      await until(() => program(bad.id), "deleted");
    },
    2 * OP_TIMEOUT_MS,
  );

  it(
    "removal stops the processes and deletes the config; a retried removal succeeds",
    async () => {
      const row = (await program(good))!;
      const pids = await pidsOf(good);
      await e.api.supervisor.remove({ id: good });
      await until(() => program(good), "deleted");
      expect((await server.exec(`test -e ${programConfPath(good)}`)).exitCode).not.toBe(0);
      expect(await status(good)).toEqual({});
      for (const pid of pids) expect((await server.exec(`kill -0 ${pid}`)).exitCode).not.toBe(0);
      expect((await server.exec(`pgrep -u ${USER} -f 'tick from'`)).exitCode).not.toBe(0);
      await runPlanByHand(server, programRemovePlan(row));
      await runPlanByHand(server, programRemovePlan(row));
    },
    OP_TIMEOUT_MS,
  );

  it(
    "uninstalling supervisor through BrokeForge deletes our configs and purges it",
    async () => {
      const again = await e.api.supervisor.create({
        serverId,
        name: "again",
        command: "/bin/sleep 600",
        directory: DIR,
        user: USER,
        numprocs: 1,
        autostart: true,
        autorestart: true,
      });
      await until(() => program(again.id), "active");
      const installed = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "supervisor" } });
      await e.api.packages.remove({ id: installed.id });
      await until(() => pkg(installed.id), "deleted");
      expect((await server.exec("command -v supervisorctl")).exitCode).not.toBe(0);
      expect(await server.sh("ls /etc/supervisor/conf.d 2>/dev/null || true")).toBe("");
      expect((await server.exec(`pgrep -u ${USER} -f '/bin/sleep 600'`)).exitCode).not.toBe(0);
    },
    OP_TIMEOUT_MS,
  );
});
