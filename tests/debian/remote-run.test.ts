// Detached milestone runs (activities/ssh/detached.ts) on a real Debian 12 server
// (systemd-nspawn, systemd as PID 1, so runs are systemd units).
//
// The bug this guards against: a milestone's script died with its SSH channel, so stopping
// the worker in the middle of apt killed dpkg, and every retry failed with "dpkg was
// interrupted". Here the worker is a separate process (tests/setup/worker-process.ts), killed
// with SIGKILL while dpkg is unpacking/configuring inside the milestone's unit; apt must run
// to its end on its own, once, and a new worker must pick up the result.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection } from "../../activities/ssh/client";
import { DEFAULT_RUNS_DIR, runName, startOrAttach, stopRun } from "../../activities/ssh/detached";
import { generateKeyPair } from "../../activities/ssh/keys";
import { script, type ScriptStep } from "../../activities/ssh/shell";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { killAllWorkerProcesses, startWorkerProcess, type WorkerProcess } from "../setup/worker-process";
import { addToBrokeForge, OP_TIMEOUT_MS, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  [e, server] = await Promise.all([startEngine({ worker: false }), bootDebian({ label: "remote-run" })]);
  worker = await startWorkerProcess();
  serverId = (await addToBrokeForge(e, server)).id;
}, 15 * 60_000);

afterAll(async () => {
  await killAllWorkerProcesses().catch(() => undefined);
  await server?.stop();
  await e?.stop();
});

afterEach(({ task }) => {
  if (task.result?.state === "fail") console.error(`--- worker process output (tail) ---\n${worker?.output().slice(-5000)}`);
});

/**
 * Exit 0 when a dpkg started by apt (`--status-fd`) runs in `unit`'s cgroup: apt is installing
 * right now. Matched through /proc/<pid>/cgroup, which names the unit on cgroup v1 and v2 alike.
 */
const aptDpkgIn = (unit: string) =>
  [
    "for p in $(pgrep -x dpkg); do",
    `  grep -q '/${unit}\\.service$' "/proc/$p/cgroup" 2>/dev/null || continue`,
    `  c=$(tr '\\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue`,
    '  case $c in *--status-fd*) echo "$c"; exit 0 ;; esac',
    "done; exit 1",
  ].join("\n");

/** What the run did so far, for a failure message. */
const runState = async (unit: string) =>
  (await server.exec(`systemctl status --no-pager ${unit}.service; cd ${DEFAULT_RUNS_DIR}/${unit} && ls && tail -n 20 out err`)).stdout;

describe("a worker killed (kill -9) in the middle of a milestone", () => {
  it(
    "apt runs to its end once, without the worker; the next worker attaches to the result and the operation succeeds",
    async () => {
      expect((await server.exec("command -v supervisord")).exitCode).not.toBe(0);
      const { id } = await e.api.packages.create({ serverId, type: "supervisor" });
      const milestone = await eventually(async () => {
        const m = await e.db.operationMilestone.findFirst({
          where: { operation: { resourceId: id }, name: "install_supervisor", state: "running" },
        });
        return m ?? null;
      }, 60_000);
      const unit = runName({ operationId: milestone.operationId, step: milestone.step, run: milestone.failures + 1 });

      // Kill the worker while dpkg (started by apt) is at work inside the milestone's unit.
      const dpkg = await eventually(async () => {
        const r = await server.exec(aptDpkgIn(unit));
        if (r.exitCode === 0) return r.stdout.trim();
        if ((await server.exec(`test -e ${DEFAULT_RUNS_DIR}/${unit}/rc`)).exitCode === 0) {
          throw new Error(`the run ended before apt was seen installing:\n${await runState(unit)}`);
        }
        return null;
      }, OP_TIMEOUT_MS);
      await worker!.kill("SIGKILL");
      console.log(`[debian remote-run] worker killed while ${unit} ran: ${dpkg}`);
      worker = undefined;

      // No worker anywhere: the run goes on by itself and records its exit code.
      const rc = await eventually(async () => {
        const r = await server.exec(`cat ${DEFAULT_RUNS_DIR}/${unit}/rc`);
        return r.exitCode === 0 ? r.stdout.trim() : null;
      }, OP_TIMEOUT_MS);
      expect(rc).toBe("0");
      expect((await e.db.serverPackage.findUniqueOrThrow({ where: { id } })).status).toBe("installing");

      worker = await startWorkerProcess();
      const row = await until(() => e.db.serverPackage.findUnique({ where: { id } }), "active");
      expect(row?.status).toBe("active");
      const op = await eventually(async () => {
        const o = await e.db.operation.findUniqueOrThrow({ where: { id: milestone.operationId }, include: { milestones: true } });
        return o.state === "succeeded" ? o : null;
      }, 30_000);
      // Exactly once: the second attempt attached to the run, no real failure was counted.
      expect(op.milestones.map((m) => ({ name: m.name, state: m.state, attempts: m.attempts, failures: m.failures }))).toEqual([
        { name: "install_supervisor", state: "succeeded", attempts: 2, failures: 0 },
      ]);
      expect(op.milestones[0]!.outputTail).toMatch(/Setting up supervisor/);

      // The server: dpkg consistent, apt's own log shows ONE install, the unit started once and is gone.
      const audit = await server.exec('dpkg --audit; echo "rc=$?"');
      expect(audit.stdout.trim()).toBe("rc=0");
      const history = await server.sh("cat /var/log/apt/history.log");
      expect(history.split("\n").filter((l) => /^Commandline: .*apt-get .* install .*\bsupervisor\b/.test(l))).toHaveLength(1);
      const journal = await server.sh(`journalctl --no-pager -o cat -u ${unit}.service`);
      expect(journal.split("\n").filter((l) => l.startsWith(`Started ${unit}.service`))).toHaveLength(1);
      expect((await server.sh(`systemctl list-units --all --plain --no-legend ${unit}.service`)).trim()).toBe("");
      expect((await server.exec("systemctl is-active supervisor")).stdout.trim()).toBe("active");
    },
    2 * OP_TIMEOUT_MS + 120_000,
  );
});

/** Holds dpkg's frontend lock (an fcntl write lock, as apt takes it) until its unit is stopped, like another apt would. */
async function holdDpkgLock(): Promise<{ release(): Promise<void> }> {
  const perl = [
    "use Fcntl;",
    'open(my $fh, ">>", "/var/lib/dpkg/lock-frontend") or die $!;',
    'my $lk = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0);',
    'fcntl($fh, F_SETLKW, $lk) or die "lock: $!";',
    "sleep 600;",
  ].join("\n");
  await server.sh(`cat > /root/hold-lock.pl <<'EOF'\n${perl}\nEOF\nsystemd-run --unit=hold-dpkg-lock /usr/bin/perl /root/hold-lock.pl`);
  await eventually(
    async () => (await server.exec("lslocks -n -o PATH | grep -qx /var/lib/dpkg/lock-frontend")).exitCode === 0 || null,
    10_000,
  );
  return { release: async () => void (await server.sh("systemctl stop hold-dpkg-lock")) };
}

/** When the journal says `message` (a prefix) about `unit`, in µs since the epoch. */
async function journalTime(unit: string, message: string): Promise<number> {
  const lines = (await server.sh(`journalctl --no-pager -o short-unix -u ${unit}.service`)).split("\n");
  const hit = lines.find((l) => l.replace(/^\S+ \S+ \S+: /, "").startsWith(message));
  if (!hit) throw new Error(`no "${message}" for ${unit} in the journal:\n${lines.join("\n")}`);
  return Math.round(Number(hit.split(" ")[0]) * 1e6);
}

describe("a cancelled milestone", () => {
  it(
    "has its unit stopped before the server's next operation starts",
    async () => {
      const lock = await holdDpkgLock();
      try {
        // apt waits for the lock inside the milestone's unit, as it would behind unattended-upgrades.
        const { id } = await e.api.packages.create({ serverId, type: "scheduler" });
        const milestone = await eventually(async () => {
          const m = await e.db.operationMilestone.findFirst({
            where: { operation: { resourceId: id }, name: "install_cron", state: "running" },
          });
          return m ?? null;
        }, 60_000);
        const unit = runName({ operationId: milestone.operationId, step: milestone.step, run: milestone.failures + 1 });
        await eventually(async () => (await server.exec(`systemctl is-active ${unit}.service`)).stdout.trim() === "active" || null, 60_000);
        const next = await e.api.packages.create({ serverId, type: "firewall" });

        await e.api.operations.cancel({ id: milestone.operationId });
        const cancelled = await eventually(async () => {
          const o = await e.db.operation.findUniqueOrThrow({ where: { id: milestone.operationId } });
          return o.state === "cancelled" || o.state === "failed" || o.state === "succeeded" ? o : null;
        }, 60_000);
        expect(cancelled.state).toBe("cancelled");
        // Nothing of it is left on the server: no unit, no apt waiting for the lock.
        expect((await server.exec(`systemctl is-active ${unit}.service`)).stdout.trim()).not.toMatch(/^(active|activating|deactivating)$/);
        expect((await server.exec("pgrep -x apt-get")).exitCode).toBe(1);

        await lock.release();
        await until(() => e.db.serverPackage.findUnique({ where: { id: next.id } }), "active");
        const nextOp = await e.db.operation.findFirstOrThrow({ where: { resourceId: next.id }, include: { milestones: true } });
        const nextUnit = runName({ operationId: nextOp.id, step: 1, run: 1 });
        expect(await journalTime(unit, "Stopped")).toBeLessThan(await journalTime(nextUnit, "Started"));
      } finally {
        await server.exec("systemctl stop hold-dpkg-lock");
      }
    },
    OP_TIMEOUT_MS + 120_000,
  );
});

describe("systemd units as run by the runner", () => {
  let conn: SshConnection;
  beforeAll(async () => {
    // A key of our own, so this test can drop a connection the way a dead worker does.
    const key = generateKeyPair("remote-run-test");
    await server.authorize(key.publicKey);
    conn = await connect({ host: server.host, port: server.sshPort, username: "root", privateKey: key.privateKey, expectedHostKey: null });
    expect(server.hostKeyFingerprints).toContain(conn.hostKey.fingerprint);
  });
  afterAll(() => conn?.close());

  const count = async (file: string) => Number((await server.sh(`cat ${file} 2>/dev/null | wc -l`)).trim());
  /** Reports its environment, counts its starts in <work>/starts, waits for <work>/gate. */
  const gated = (work: string): ScriptStep[] => [
    { label: "Preparing", argv: ["mkdir", "-p", "--", work] },
    {
      label: "Environment",
      argv: ["sh", "-c", 'echo "HOME=$HOME PWD=$(pwd) UMASK=$(umask) $(grep SigIgn /proc/self/status | tr -d "\\t")"'],
    },
    { label: "Starting", argv: ["sh", "-c", 'echo run >>"$1/starts"; echo started', "sh", work] },
    { label: "Waiting", argv: ["sh", "-c", 'while [ ! -e "$1/gate" ]; do sleep 0.1; done; echo finished', "sh", work] },
  ];

  it("a unit per run: it outlives its channel, a second channel attaches, and it is collected when it ends", async () => {
    const work = "/root/remote-run-attach";
    const name = "brokeforge-op-manual-1-1";
    const rendered = script(gated(work));
    const key = generateKeyPair("remote-run-doomed");
    await server.authorize(key.publicKey);
    const dying = await connect({
      host: server.host,
      port: server.sshPort,
      username: "root",
      privateKey: key.privateKey,
      expectedHostKey: null,
    });
    const first = dying.exec(startOrAttach({ name }, rendered.body)).catch((err: unknown) => err);
    await eventually(async () => (await count(`${work}/starts`)) === 1 || null, 60_000);
    dying.close();
    expect(await first).toMatchObject({ kind: "dropped" });
    expect((await server.exec(`systemctl is-active ${name}.service`)).stdout.trim()).toBe("active");

    let streamed = "";
    const attached = conn.exec(startOrAttach({ name }, rendered.body), { onOutput: (c) => c.stream === "stdout" && (streamed += c.text) });
    await eventually(async () => streamed.includes("started\n") || null, 30_000);
    await server.sh(`touch ${work}/gate`);
    const r = await attached;
    expect(r.exitCode).toBe(0);
    const parsed = rendered.parse(r.stdout, r.stderr);
    expect(parsed.failed ?? parsed.incomplete).toBeNull();
    expect(parsed.steps[3]!.stdout).toBe("finished\n");
    expect(await count(`${work}/starts`)).toBe(1);
    await eventually(
      async () => (await server.exec(`systemctl list-units --all --plain --no-legend ${name}.service`)).stdout.trim() === "" || null,
      10_000,
    );

    // What the script sees differs from an SSH session only where systemd must differ (no tty,
    // no SSH_* variables): same home, working dir, umask and ignored signals (no SIGPIPE).
    const inChannel = await conn.exec(script([gated(work)[1]!]).command);
    expect(parsed.steps[1]!.stdout).toBe(inChannel.stdout.split("\n").find((l) => l.startsWith("HOME="))! + "\n");
    expect(parsed.steps[1]!.stdout).toMatch(/^HOME=\/root PWD=\/root UMASK=0022 SigIgn:0000000000000000\n$/);
  }, 180_000);

  it("cost per milestone on this server: in-channel vs a systemd unit (printed, not asserted)", async () => {
    const rendered = script([{ label: "noop", argv: ["true"] }]);
    const timeOf = async (command: string) => {
      const t = performance.now();
      expect((await conn.exec(command)).exitCode).toBe(0);
      return performance.now() - t;
    };
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const inChannel: number[] = [];
    const unit: number[] = [];
    for (let i = 1; i <= 11; i++) {
      inChannel.push(await timeOf(rendered.command));
      unit.push(await timeOf(startOrAttach({ name: `brokeforge-op-cost-1-${i}` }, rendered.body)));
    }
    console.log(
      `[debian remote-run] one-step milestone, p50 of 11: in-channel ${p50(inChannel).toFixed(0)} ms, systemd unit ${p50(unit).toFixed(0)} ms`,
    );
  }, 120_000);

  it("stop ends the unit (and everything in it) before it returns; an attach then reports no exit status", async () => {
    const work = "/root/remote-run-stop";
    const name = "brokeforge-op-manual-2-1";
    const rendered = script(gated(work));
    const attached = conn.exec(startOrAttach({ name }, rendered.body)).catch((err: unknown) => err);
    await eventually(async () => (await count(`${work}/starts`)) === 1 || null, 60_000);
    const stopped = await conn.exec(stopRun({ name }));
    expect(stopped).toMatchObject({ exitCode: 0, stderr: "" });
    expect((await server.exec(`systemctl is-active ${name}.service`)).stdout.trim()).not.toMatch(/^(active|activating|deactivating)$/);
    expect((await server.exec(`pgrep -f remote-run-sto[p]/gate`)).exitCode).toBe(1); // [p]: not this command itself
    expect(await attached).toMatchObject({ exitCode: 255 });
    const after = await conn.exec(startOrAttach({ name }, rendered.body));
    expect(after.exitCode).toBe(255);
    expect(after.stderr).toContain("ended without an exit status");
    expect(await count(`${work}/starts`)).toBe(1);
  }, 120_000);
});
