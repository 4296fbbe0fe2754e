// Detached milestone runs (activities/ssh/detached.ts) through a real OpenSSH sshd, with the
// client exactly as milestones use it (lifeline included): what a dead worker or a dropped
// connection does to a run, what a cancel does, and what the detour costs per milestone.
// This host has no systemd as PID 1, so runs start in setsid mode (systemd mode: tests/debian).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection, type SshTarget } from "../../activities/ssh/client";
import { startOrAttach, stopRun } from "../../activities/ssh/detached";
import { generateKeyPair } from "../../activities/ssh/keys";
import { script, type ScriptStep } from "../../activities/ssh/shell";
import { startSshd, type RunningSshd } from "../fixtures/sshd";

let sshd: RunningSshd;
let target: SshTarget;
let c: SshConnection;
const dir = mkdtempSync(path.join(tmpdir(), "bf-detached-sshd-"));
const runsDir = path.join(dir, "runs");
let n = 0;
/** A fresh run name and work dir per test. */
function fresh() {
  n++;
  return { place: { name: `brokeforge-op-sshd-${n}-1`, runsDir }, work: path.join(dir, `w${n}`) };
}

beforeAll(async () => {
  sshd = await startSshd();
  const key = generateKeyPair("brokeforge-test");
  await sshd.authorize(key.publicKey);
  target = { host: sshd.host, port: sshd.port, username: "root", privateKey: key.privateKey, expectedHostKey: null };
  c = await connect(target);
});

afterAll(async () => {
  c?.close();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const count = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0);

/** Starts (one line in <work>/starts), waits for <work>/gate, exits `code`. */
function gated(work: string, code = 0): ScriptStep[] {
  return [
    { label: "Preparing", argv: ["mkdir", "-p", "--", work] },
    { label: "Starting", argv: ["sh", "-c", 'echo run >>"$1/starts"; echo started', "sh", work] },
    {
      label: "Waiting",
      argv: ["sh", "-c", 'while [ ! -e "$1/gate" ]; do sleep 0.02; done; echo finished; exit "$2"', "sh", work, String(code)],
    },
  ];
}

describe("detached runs through real sshd", () => {
  it("return what the in-channel script returned (hostile argv included)", async () => {
    const hostile = ["it's", "$(id)", "`id`", "a\nb", "日本 😀", "--x=$HOME", '"', "\\"];
    const rendered = script([
      { label: "print", argv: ["printf", "%s\\0", ...hostile] },
      { label: "fail", argv: ["sh", "-c", "echo oops >&2; exit 5"] },
    ]);
    const inChannel = await c.exec(rendered.command);
    const detached = await c.exec(startOrAttach(fresh().place, rendered.body));
    expect({ ...detached, durationMs: 0 }).toEqual({ ...inChannel, durationMs: 0 });
    const parsed = rendered.parse(detached.stdout, detached.stderr);
    expect(parsed.steps[0]!.stdout.split("\0").slice(0, -1)).toEqual(hostile);
    expect(parsed.failed).toMatchObject({ label: "fail", exitCode: 5, stderr: "oops\n" });
  });

  it("survive the connection dying (a killed worker); a new connection attaches and gets all of the output, one run", async () => {
    const { place, work } = fresh();
    const rendered = script(gated(work));
    const doomed = await connect(target);
    const first = doomed.exec(startOrAttach(place, rendered.body)).catch((err: unknown) => err);
    await until(() => count(path.join(work, "starts")) === 1, "the run to start");
    doomed.close();
    expect(await first).toMatchObject({ kind: "dropped" });

    const retry = c.exec(startOrAttach(place, rendered.body));
    await c.exec(`touch ${work}/gate`);
    const r = await retry;
    expect(r.exitCode).toBe(0);
    const parsed = rendered.parse(r.stdout, r.stderr);
    expect(parsed.failed ?? parsed.incomplete).toBeNull();
    expect(parsed.steps.map((s) => s.stdout)).toEqual(["", "started\n", "finished\n"]);
    expect(count(path.join(work, "starts"))).toBe(1);
  });

  it("a cancel (abort) ends our wait at once; the stop command then ends the run itself", async () => {
    const { place, work } = fresh();
    const rendered = script(gated(work));
    const abort = new AbortController();
    const attached = c.exec(startOrAttach(place, rendered.body), { signal: abort.signal }).catch((err: unknown) => err);
    await until(() => count(path.join(work, "starts")) === 1, "the run to start");
    const pid = Number(readFileSync(path.join(runsDir, place.name, "pid"), "utf8"));
    abort.abort();
    expect(await attached).toMatchObject({ name: "AbortError" });
    // Only the channel went: the run goes on until it is stopped.
    expect((await c.exec(`kill -0 ${pid}`)).exitCode).toBe(0);

    const stopped = await c.exec(stopRun(place));
    expect(stopped).toMatchObject({ exitCode: 0, stderr: "" });
    const gone = await c.exec(`s=$(cat /proc/${pid}/stat 2>/dev/null) || exit 0; s=\${s##*) }; [ "\${s%% *}" = Z ]`);
    expect(gone.exitCode).toBe(0); // gone, or a zombie this machine's PID 1 never reaps
    const after = await c.exec(startOrAttach(place, rendered.body));
    expect(after.exitCode).toBe(255);
    expect(after.stderr).toContain("ended without an exit status");
  });
});
