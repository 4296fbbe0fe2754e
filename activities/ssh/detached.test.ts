import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { JOB, RUNNER, STOP, SYSTEMD_RUN, runName, startOrAttach, stopRun } from "./detached";
import { quote, script, toShell, withLifeline, type ScriptStep } from "./shell";
import { unwrapDetached } from "../../tests/fixtures/shell-reader";

describe("names and command lines", () => {
  it("names a run by operation, step and run number", () => {
    expect(runName({ operationId: "cm5x9abc0001", step: 2, run: 1 })).toBe("brokeforge-op-cm5x9abc0001-2-1");
    expect(runName({ operationId: "cm5x9abc0001", step: 2, run: 3 })).toBe("brokeforge-op-cm5x9abc0001-2-3");
  });

  it.each([
    [{ operationId: "a;b", step: 1, run: 1 }],
    [{ operationId: "", step: 1, run: 1 }],
    [{ operationId: "op_1", step: 1, run: 1 }],
    [{ operationId: "op", step: 0, run: 1 }],
    [{ operationId: "op", step: 1, run: 1.5 }],
  ])("refuses %j", (input) => {
    expect(() => runName(input)).toThrow(/runName: bad/);
  });

  it("refuses names and dirs that are not plain", () => {
    expect(() => startOrAttach({ name: "x y" }, "true\n")).toThrow(/bad run name/);
    expect(() => startOrAttach({ name: "-x" }, "true\n")).toThrow(/bad run name/);
    expect(() => startOrAttach({ name: "x", runsDir: "relative" }, "true\n")).toThrow(/bad runs dir/);
    expect(() => startOrAttach({ name: "x", runsDir: "/tmp/a b" }, "true\n")).toThrow(/bad runs dir/);
    expect(() => stopRun({ name: "x.service" })).toThrow(/bad run name/);
  });

  it("starts systemd units with exactly these options", () => {
    expect(toShell(SYSTEMD_RUN)).toBe(
      "systemd-run --quiet --collect '--uid=0' '--property=IgnoreSIGPIPE=no' '--property=TimeoutStopSec=10'",
    );
    expect(RUNNER).toContain(
      `    systemd-run --quiet --collect '--uid=0' '--property=IgnoreSIGPIPE=no' '--property=TimeoutStopSec=10' --unit="$name" --description="BrokeForge $name" /bin/bash --norc --noprofile "$d/job" "$d" 8>&- </dev/null >/dev/null || exit 2\n`,
    );
    expect(RUNNER).toContain('    (set -m; setsid bash --norc --noprofile "$d/job" "$d" locked 8>&- </dev/null >/dev/null 2>&1 &)\n');
    expect(JOB).toContain('bash --norc --noprofile "$d/script" </dev/null >>"$d/out" 2>>"$d/err" 9>&-\n');
    expect(STOP).toContain('  systemctl stop -- "$name.service"\n');
  });

  it("start-or-attach: the runner, then runs dir, mode, name, wrapper and script as arguments", () => {
    const body = 'set -euo pipefail\necho "it\'s"\n';
    expect(startOrAttach({ name: "brokeforge-op-cm1-1-1" }, body)).toBe(
      `exec bash --norc --noprofile -c ${quote(RUNNER)} brokeforge-run '' auto brokeforge-op-cm1-1-1 ${quote(JOB)} 'set -euo pipefail\necho "it'\\''s"\n'`,
    );
    expect(startOrAttach({ name: "n1", runsDir: "/tmp/runs", mode: "setsid" }, "true\n")).toBe(
      `exec bash --norc --noprofile -c ${quote(RUNNER)} brokeforge-run /tmp/runs setsid n1 ${quote(JOB)} 'true\n'`,
    );
  });

  it("stop: the stopper, then runs dir, mode and name", () => {
    expect(stopRun({ name: "brokeforge-op-cm1-1-1" })).toBe(
      `exec bash --norc --noprofile -c ${quote(STOP)} brokeforge-stop '' auto brokeforge-op-cm1-1-1`,
    );
  });

  it("quotes the script no deeper than running it in the channel did: a constant overhead, whatever the script holds", () => {
    const overhead = (steps: ScriptStep[]) => {
      const rendered = script(steps, { nonce: "n0nce0000" });
      return withLifeline(startOrAttach({ name: "n" }, rendered.body)).length - withLifeline(rendered.command).length;
    };
    const plain = overhead([{ label: "a", argv: ["echo", "hello"] }]);
    expect(overhead([{ label: "a", argv: ["printf", "%s", "'".repeat(5000)] }])).toBe(plain);
    expect(plain).toBeLessThan(6000);
  });

  it("gives the test peer the in-channel script back", () => {
    const rendered = script([{ label: "x", argv: ["echo", "it's"] }]);
    expect(unwrapDetached(startOrAttach({ name: "brokeforge-op-a-1-1" }, rendered.body))).toEqual({
      name: "brokeforge-op-a-1-1",
      command: rendered.command,
    });
    expect(unwrapDetached(rendered.command)).toBeNull();
    expect(unwrapDetached(stopRun({ name: "n" }))).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// The generated shell, run for real by local bash (setsid mode: a temp runs dir, no systemd).

const root = mkdtempSync(path.join(tmpdir(), "bf-detached-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runsDir: string;
let work: string;
let n = 0;
beforeEach(() => {
  n++;
  runsDir = path.join(root, `runs${n}`);
  work = path.join(root, `work${n}`);
  mkdirSync(work);
});

interface Invocation {
  /** The channel: closing it is what a dropped connection or a killed worker does. */
  stdin: NodeJS.WritableStream;
  /** What it printed so far. */
  stdout(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Runs a command the way the client does over SSH: under the lifeline, the channel on stdin. */
function run(command: string): Invocation {
  const child = spawn("bash", ["-c", withLifeline(command)], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return {
    stdin: child.stdin,
    stdout: () => stdout,
    done: new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr }))),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);
/** Alive = not gone and not a zombie (this machine's PID 1 does not reap orphans). */
const alive = (pid: number) => existsSync(`/proc/${pid}/stat`) && readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]![0] !== "Z";

/**
 * A milestone-like script: records that it started (one line per run), prints on both
 * streams, waits for the test to open its gate (a file), then exits with `code`.
 */
function gated(code: number, extra: ScriptStep[] = []) {
  const steps: ScriptStep[] = [
    { label: "Starting", argv: ["sh", "-c", 'echo run >>"$1/starts"; echo started; echo warming >&2', "sh", work] },
    ...extra,
    {
      label: "Waiting for the gate",
      argv: ["sh", "-c", 'while [ ! -e "$1/gate" ]; do sleep 0.02; done; echo "done $2"; exit "$2"', "sh", work, String(code)],
    },
  ];
  return script(steps);
}
const openGate = () => writeFileSync(path.join(work, "gate"), "");
const starts = () => lines(path.join(work, "starts")).length;
const place = (name = "brokeforge-op-t-1-1") => ({ name, runsDir, mode: "setsid" as const });

describe("start, attach, stop (real bash, setsid mode)", () => {
  it("returns what running the script in the channel returns: stdout, stderr, exit code, step markers", async () => {
    const rendered = script([
      { label: "out", argv: ["sh", "-c", 'echo one; echo two >&2; printf "no newline"'] },
      // What the script inherits: working dir, umask, ignored signals.
      { label: "env", argv: ["sh", "-c", "pwd; umask; grep SigIgn /proc/self/status"] },
      { label: "fail", argv: ["sh", "-c", "echo bad >&2; exit 4"] },
      { label: "never", argv: ["echo", "never"] },
    ]);
    const inChannel = await run(rendered.command).done;
    const detached = await run(startOrAttach(place(), rendered.body)).done;
    expect(detached).toEqual(inChannel);
    expect(detached.code).toBe(4);
    const parsed = rendered.parse(detached.stdout, detached.stderr);
    expect(parsed.failed).toMatchObject({ label: "fail", exitCode: 4, stderr: "bad\n" });
    expect(parsed.steps[0]).toMatchObject({ status: "ok", stdout: "one\nno newline", stderr: "two\n" });
    expect(parsed.steps[3]!.status).toBe("not_run");
  });

  it("a second start of the same name attaches: one run, and both see all of its output and its exit code", async () => {
    const rendered = gated(7);
    const first = run(startOrAttach(place(), rendered.body));
    await until(() => starts() === 1, "the run to start");
    const second = run(startOrAttach(place(), rendered.body));
    // Attached while the run is still going: it streams what the run printed before it came.
    await until(() => second.stdout().includes("started\n"), "the second invocation to stream the run");
    expect(existsSync(path.join(runsDir, "brokeforge-op-t-1-1/rc"))).toBe(false);
    openGate();
    const [a, b] = await Promise.all([first.done, second.done]);
    expect(a.code).toBe(7);
    expect(b).toEqual(a);
    expect(a.stdout).toContain("started\n");
    expect(a.stdout).toContain("done 7\n");
    expect(a.stderr).toContain("warming\n");
    expect(rendered.parse(a.stdout, a.stderr).failed).toMatchObject({ label: "Waiting for the gate", exitCode: 7 });
    expect(starts()).toBe(1);
  });

  it("the run outlives its channel (worker killed, connection dropped); a retry attaches to it and gets its result", async () => {
    const rendered = gated(0);
    const first = run(startOrAttach(place(), rendered.body));
    await until(() => starts() === 1, "the run to start");
    first.stdin.end(); // EOF on the channel: the lifeline stops what the channel ran
    expect((await first.done).code).toBe(143);
    const pid = Number(readFileSync(path.join(runsDir, "brokeforge-op-t-1-1/pid"), "utf8"));
    expect(alive(pid)).toBe(true);

    const retry = run(startOrAttach(place(), rendered.body));
    openGate();
    const r = await retry.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("started\n"); // from before the retry came
    expect(r.stdout).toContain("done 0\n");
    const parsed = rendered.parse(r.stdout, r.stderr);
    expect(parsed.failed ?? parsed.incomplete).toBeNull();
    expect(starts()).toBe(1);
  });

  it("a run that ended is reported again, not re-run; the next run number runs afresh", async () => {
    const rendered = gated(3);
    openGate();
    const first = await run(startOrAttach(place(), rendered.body)).done;
    const again = await run(startOrAttach(place(), rendered.body)).done;
    expect(first.code).toBe(3);
    expect(again).toEqual(first);
    expect(starts()).toBe(1);
    // The script (it may hold secrets) is gone once it ran; the result stays.
    expect(existsSync(path.join(runsDir, "brokeforge-op-t-1-1/script"))).toBe(false);

    const next = await run(startOrAttach(place("brokeforge-op-t-1-2"), rendered.body)).done;
    expect(next.code).toBe(3);
    expect(starts()).toBe(2);
  });

  it("stop ends every process of the run (also one in its own process group) and returns once they are gone", async () => {
    const child = path.join(work, "child");
    const rendered = gated(0, [{ label: "A daemon-ish child", argv: ["sh", "-c", 'set -m; sleep 300 & echo $! >"$1"', "sh", child] }]);
    const attached = run(startOrAttach(place(), rendered.body));
    await until(() => existsSync(child) && lines(child).length === 1, "the child to start");
    const childPid = Number(lines(child)[0]);
    const runPid = Number(readFileSync(path.join(runsDir, "brokeforge-op-t-1-1/pid"), "utf8"));
    expect(alive(childPid)).toBe(true);

    const stopped = await run(stopRun(place())).done;
    expect(stopped).toMatchObject({ code: 0, stderr: "" });
    expect(alive(childPid)).toBe(false);
    expect(alive(runPid)).toBe(false);
    expect(existsSync(path.join(runsDir, "brokeforge-op-t-1-1/script"))).toBe(false); // it may hold secrets
    const r = await attached.done;
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("ended without an exit status");
    expect(rendered.parse(r.stdout, r.stderr).incomplete).toMatchObject({ label: "Waiting for the gate" });
    // Stopping what is not running is fine (a cancel racing the end of the run).
    expect((await run(stopRun(place())).done).code).toBe(0);
    expect((await run(stopRun(place("brokeforge-op-never-1-1"))).done).code).toBe(0);
  });

  it("a run that died without an exit code (server restarted, killed) is reported as such, never started twice", async () => {
    const rendered = gated(0);
    const attached = run(startOrAttach(place(), rendered.body));
    await until(() => starts() === 1, "the run to start");
    const pid = Number(readFileSync(path.join(runsDir, "brokeforge-op-t-1-1/pid"), "utf8"));
    process.kill(-pid, "SIGKILL"); // its session leader is its process group leader too
    const r = await attached.done;
    expect(r.code).toBe(255);
    const retry = await run(startOrAttach(place(), rendered.body)).done;
    expect(retry.code).toBe(255);
    expect(retry.stderr).toContain("brokeforge: run brokeforge-op-t-1-1 ended without an exit status");
    expect(starts()).toBe(1);
  });

  it("removes state dirs older than a week when a run starts", async () => {
    for (const name of ["brokeforge-op-old-1-1", "brokeforge-op-recent-1-1"]) mkdirSync(path.join(runsDir, name), { recursive: true });
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(path.join(runsDir, "brokeforge-op-old-1-1"), eightDaysAgo, eightDaysAgo);
    openGate();
    expect((await run(startOrAttach(place(), gated(0).body)).done).code).toBe(0);
    expect(existsSync(path.join(runsDir, "brokeforge-op-old-1-1"))).toBe(false);
    expect(existsSync(path.join(runsDir, "brokeforge-op-recent-1-1"))).toBe(true);
  });

  it("the runner itself refuses a name that is not plain", async () => {
    const r = await run(`bash -c ${quote(RUNNER)} brokeforge-run ${quote(runsDir)} setsid ${quote("../x")} ${quote(JOB)} 'true'`).done;
    expect(r).toMatchObject({ code: 2, stderr: "brokeforge: bad run name ../x\n" });
    expect(existsSync(runsDir)).toBe(false);
  });
});
