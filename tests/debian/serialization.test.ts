// One operation at a time per server, on a real Debian 12 server (systemd-nspawn, see
// harness.ts): package installs enqueued together must run one after the other — on the
// server itself apt never runs twice at once, nothing waits for the dpkg lock — and all succeed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, OP_TIMEOUT_MS, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  const t0 = Date.now();
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "serial" })]);
  timings.boot = server.bootMs;
  serverId = (await addToBrokeForge(e, server)).id;
  timings.setup = Date.now() - t0;
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian serialization] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

/** apt's own journal on the server: one entry per apt-get install/purge, with its start and end. */
async function aptHistory(): Promise<Array<{ commandline: string; start: number; end: number }>> {
  const text = await server.sh("cat /var/log/apt/history.log");
  return text
    .split(/\n\s*\n/)
    .filter((b) => b.includes("Start-Date:"))
    .map((b) => {
      const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(b)?.[1] ?? "";
      const date = (s: string) => Date.parse(s.replace(/^(\S+)\s+(\S+)$/, "$1T$2Z"));
      return { commandline: field("Commandline"), start: date(field("Start-Date")), end: date(field("End-Date")) };
    });
}

describe("serialization on a real Debian 12 server", () => {
  it(
    "scheduler + supervisor + firewall installs (and a rule and a task right behind them) enqueued together all succeed, one after the other",
    async () => {
      const t = Date.now();
      // The two installs race to the queue; the rule and the task are queued behind their packages.
      const [scheduler, supervisor] = await Promise.all([
        e.api.packages.create({ serverId, type: "scheduler" }),
        e.api.packages.create({ serverId, type: "supervisor" }),
      ]);
      const firewall = await e.api.packages.create({ serverId, type: "firewall" });
      const rule = await e.api.firewall.create({ serverId, name: "web", port: "8080", protocol: "tcp", action: "allow", source: "" });
      const task = await e.api.scheduler.create({
        serverId,
        name: "tick",
        user: "root",
        frequency: "hourly",
        command: "date >> /root/ticks",
      });

      const ids = [scheduler.id, supervisor.id, firewall.id, rule.id, task.id];
      // Queued, not running in parallel: at most one of them is running at any moment.
      const running = await e.db.operation.count({ where: { serverId, state: "running" } });
      expect(running).toBeLessThanOrEqual(1);

      for (const id of [scheduler.id, supervisor.id, firewall.id]) {
        await until(() => e.db.serverPackage.findUnique({ where: { id } }), "active");
      }
      await until(() => e.db.firewallRule.findUnique({ where: { id: rule.id } }), "active");
      await until(() => e.db.scheduledTask.findUnique({ where: { id: task.id } }), "active");
      timings.allFive = Date.now() - t;

      // BrokeForge's record: every operation succeeded, and their run times do not overlap.
      const ops = await e.db.operation.findMany({
        where: { resourceId: { in: ids } },
        orderBy: { startedAt: "asc" },
        include: { milestones: true },
      });
      expect(ops).toHaveLength(5);
      expect(ops.every((o) => o.state === "succeeded")).toBe(true);
      for (let i = 1; i < ops.length; i++) {
        expect(ops[i]!.startedAt!.getTime()).toBeGreaterThanOrEqual(ops[i - 1]!.finishedAt!.getTime());
      }
      // The rule and the task ran after the packages they need.
      const order = ops.map((o) => o.resourceId);
      expect(order.indexOf(rule.id)).toBeGreaterThan(order.indexOf(firewall.id));
      expect(order.indexOf(task.id)).toBeGreaterThan(order.indexOf(scheduler.id));
      // No step ever had to wait for (or failed on) the dpkg / apt lock, and none was retried.
      for (const m of ops.flatMap((o) => o.milestones)) {
        expect(m.outputTail ?? "").not.toMatch(/Could not get lock|Waiting for cache lock|dpkg frontend lock|lock-frontend/);
        expect(m.attempts).toBe(1);
      }

      // The server's record: apt ran the three installs one after the other.
      const installs = (await aptHistory()).filter((h) => / install -y (cron|supervisor|ufw)$/.test(h.commandline));
      expect(installs.map((h) => h.commandline.split(" ").at(-1)).sort()).toEqual(["cron", "supervisor", "ufw"]);
      for (let i = 1; i < installs.length; i++) expect(installs[i]!.start).toBeGreaterThanOrEqual(installs[i - 1]!.end);

      // And the result is all there.
      expect((await server.sh("systemctl is-active cron supervisor")).trim().split("\n")).toEqual(["active", "active"]);
      expect(await server.sh("ufw status")).toMatch(new RegExp(`^8080/tcp +ALLOW +Anywhere +# brokeforge:${rule.id}$`, "m"));
      expect(await server.sh("crontab -l")).toContain(`# brokeforge:task:${task.id}`);
      await server.sshTrue();
    },
    2 * OP_TIMEOUT_MS,
  );
});
