// Scheduled tasks on a real Debian 12 server (systemd-nspawn, see harness.ts): cron installed
// through BrokeForge, tasks created/paused/resumed/removed through BrokeForge, and every
// crontab read back from the server — including lines a human wrote there by hand.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cronLine,
  schedulerInstallPlan,
  taskInstallPlan,
  taskLogPath,
  taskPausePlan,
  taskRemovePlan,
  taskScriptPath,
} from "../../catalogue/packages/scheduler";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, operationEnded, OP_TIMEOUT_MS, runPlanByHand, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
const timings: Record<string, number> = {};
const USER = "deployer";
// What a human put in deployer's crontab before BrokeForge came along (comment, env line, job).
const HUMAN = ["# added by hand, keep me", 'MAILTO=""', '17 3 * * * /usr/bin/find /tmp -name "*.tmp" -delete # nightly %cleanup'];
const HUMAN_ROOT = "*/5 * * * * /usr/bin/true # root job added by hand";

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "scheduler" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  await server.sh(`useradd --create-home --shell /bin/bash ${USER}`);
  timings.setup = Date.now() - t0;
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian scheduler] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

const task = (id: string) => e.db.scheduledTask.findUnique({ where: { id } });
const pkg = (id: string) => e.db.serverPackage.findUnique({ where: { id } });

/** The user's crontab as cron has it (lines), or [] when there is none. */
async function crontab(user: string): Promise<string[]> {
  const r = await server.exec(`crontab -u ${user} -l`);
  if (r.exitCode !== 0) {
    expect(r.stderr).toMatch(/no crontab for/);
    return [];
  }
  return r.stdout.replace(/\n$/, "").split("\n");
}

async function lineOf(id: string): Promise<string> {
  return cronLine((await task(id))!);
}

let taskA: string; // every minute: writes a marker, proves cron really runs it as the user
let taskB: string; // daily: a bystander that must stay untouched

describe("scheduler (cron) on a real Debian 12 server", () => {
  it("cron is not there yet; a human edits crontabs first (the safe way)", async () => {
    expect((await server.exec("command -v crontab")).exitCode).not.toBe(0);
  });

  it(
    "installs cron through BrokeForge: installed, enabled and running",
    async () => {
      const t = Date.now();
      const { id } = await e.api.packages.create({ serverId, type: "scheduler" });
      const row = await until(() => pkg(id), "active");
      timings.installCron = Date.now() - t;
      expect((row as unknown as { version: string }).version).toBe((await server.sh("dpkg-query -W -f='${Version}' cron")).trim());
      expect((await server.sh("systemctl is-active cron")).trim()).toBe("active");
      expect((await server.sh("systemctl is-enabled cron")).trim()).toBe("enabled");

      // Now the human's lines (in one `crontab -` each, as someone would at a shell).
      const lines = HUMAN.map((l) => `'${l.replaceAll("'", `'\\''`)}'`).join(" ");
      await server.sh(`{ crontab -u ${USER} -l 2>/dev/null || true; printf '%s\\n' ${lines}; } | crontab -u ${USER} -`);
      await server.sh(`{ crontab -l 2>/dev/null || true; echo '${HUMAN_ROOT}'; } | crontab -`);
      expect(await crontab(USER)).toEqual(HUMAN);
    },
    OP_TIMEOUT_MS,
  );

  it(
    "a task lands in the right user's crontab exactly once, after the human lines",
    async () => {
      const t = Date.now();
      const a = await e.api.scheduler.create({
        serverId,
        name: "marker",
        user: USER,
        frequency: "every_minute",
        command: 'echo "ran as $(id -un) in $(pwd) at $(date +%s)" >> /home/deployer/marker',
      });
      const b = await e.api.scheduler.create({ serverId, name: "nightly", user: USER, frequency: "daily", command: "echo 'it''s night'" });
      taskA = a.id;
      taskB = b.id;
      await until(() => task(taskA), "active");
      await until(() => task(taskB), "active");
      timings.createTwoTasks = Date.now() - t;

      const lines = await crontab(USER);
      expect(lines).toEqual([...HUMAN, await lineOf(taskA), await lineOf(taskB)]);
      expect(lines.filter((l) => l.endsWith(`# brokeforge:task:${taskA}`))).toHaveLength(1);
      expect(await crontab("root")).toEqual([HUMAN_ROOT]); // not root's
      // The script holds the command verbatim, private to the task's user.
      expect(await server.sh(`cat ${taskScriptPath(taskA)}`)).toContain('echo "ran as $(id -un) in $(pwd) at $(date +%s)"');
      expect((await server.sh(`stat -c '%U %a' ${taskScriptPath(taskA)} ${taskLogPath(taskA)}`)).trim().split("\n")).toEqual([
        `${USER} 600`,
        `${USER} 600`,
      ]);
    },
    2 * OP_TIMEOUT_MS,
  );

  it("cron really runs it, as the task's user (waits for the next minute)", async () => {
    const t = Date.now();
    const marker = await eventually(async () => {
      const r = await server.exec("cat /home/deployer/marker");
      return r.exitCode === 0 && r.stdout.trim() ? r.stdout : null;
    }, 130_000);
    timings.firstRun = Date.now() - t;
    expect(marker).toMatch(/^ran as deployer in \/home\/deployer at \d+$/m);
    // cron's own record of it, and the task log (empty: the command's output went to the marker).
    expect(await server.sh(`journalctl -u cron --no-pager -o cat | grep -c 'CMD (/bin/sh ${taskScriptPath(taskA)}' || true`)).not.toBe(
      "0\n",
    );
    expect((await server.sh(`stat -c %s ${taskLogPath(taskA)}`)).trim()).toBe("0");
  }, 150_000);

  it(
    "pause removes only that line; resume puts it back once; other lines stay byte for byte",
    async () => {
      const lineA = await lineOf(taskA);
      const lineB = await lineOf(taskB);
      await e.api.scheduler.pause({ id: taskA });
      await until(() => task(taskA), "paused");
      expect(await crontab(USER)).toEqual([...HUMAN, lineB]);
      expect((await server.exec(`test -f ${taskScriptPath(taskA)}`)).exitCode).toBe(0); // kept for the resume

      await e.api.scheduler.resume({ id: taskA });
      await until(() => task(taskA), "active");
      expect(await crontab(USER)).toEqual([...HUMAN, lineB, lineA]);
      expect(await crontab("root")).toEqual([HUMAN_ROOT]);
    },
    2 * OP_TIMEOUT_MS,
  );

  it(
    "removal deletes its line and script, keeps its log and every other line",
    async () => {
      const lineB = await lineOf(taskB);
      await e.api.scheduler.remove({ id: taskA });
      await until(() => task(taskA), "deleted");
      expect(await crontab(USER)).toEqual([...HUMAN, lineB]);
      expect((await server.exec(`test -e ${taskScriptPath(taskA)}`)).exitCode).not.toBe(0);
      expect((await server.exec(`test -f ${taskLogPath(taskA)}`)).exitCode).toBe(0);
      expect(await crontab("root")).toEqual([HUMAN_ROOT]);
    },
    OP_TIMEOUT_MS,
  );

  it(
    "re-running the milestones by hand (as a retry would) leaves the same crontab and files",
    async () => {
      const rowB = (await task(taskB))!;
      const snapshot = async () =>
        [
          (await crontab(USER)).join("\n"),
          (await crontab("root")).join("\n"),
          await server.sh(`ls -l --time-style=+ ${taskScriptPath(taskB)} ${taskLogPath(taskB)}; cat ${taskScriptPath(taskB)}`),
          await server.sh("systemctl is-active cron; dpkg-query -W cron"),
        ].join("\n---\n");
      const before = await snapshot();
      for (const plan of [schedulerInstallPlan(), taskInstallPlan(rowB)]) {
        await runPlanByHand(server, plan);
        await runPlanByHand(server, plan);
        expect(await snapshot()).toBe(before);
      }
      // Pause twice = paused once; remove twice = removed once (a retried removal must succeed).
      await runPlanByHand(server, taskPausePlan(rowB));
      const paused = await crontab(USER);
      await runPlanByHand(server, taskPausePlan(rowB));
      expect(await crontab(USER)).toEqual(paused);
      expect(paused).toEqual(HUMAN);
      await runPlanByHand(server, taskInstallPlan(rowB)); // back as BrokeForge has it
      expect(await snapshot()).toBe(before);
      // A user without any crontab yet: installing creates it with exactly our line.
      await server.sh("useradd --no-create-home worker");
      const rowW = { ...rowB, id: "bytask-worker", user: "worker" };
      await runPlanByHand(server, taskInstallPlan(rowW));
      await runPlanByHand(server, taskInstallPlan(rowW));
      expect(await crontab("worker")).toEqual([cronLine(rowW)]);
      await runPlanByHand(server, taskRemovePlan(rowW));
      await runPlanByHand(server, taskRemovePlan(rowW));
      // EDIT_CRONTAB leaves one empty line behind when it removes the last line (harmless to
      // cron; reported): no line of ours, no line at all.
      expect((await crontab("worker")).filter((l) => l !== "")).toEqual([]);
    },
    4 * OP_TIMEOUT_MS,
  );

  it(
    "uninstalling the scheduler through BrokeForge removes all BrokeForge lines, keeps the human's and cron itself",
    async () => {
      const installed = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "scheduler" } });
      await e.api.packages.remove({ id: installed.id });
      await until(() => pkg(installed.id), "deleted");
      await operationEnded(e, installed.id, "succeeded"); // the row is deleted first, the operation ends right after
      expect(await crontab(USER)).toEqual(HUMAN);
      expect(await crontab("root")).toEqual([HUMAN_ROOT]);
      expect((await server.exec("test -e /opt/brokeforge/scheduler/tasks")).exitCode).not.toBe(0);
      expect((await server.sh("systemctl is-active cron")).trim()).toBe("active");
    },
    OP_TIMEOUT_MS,
  );
});
