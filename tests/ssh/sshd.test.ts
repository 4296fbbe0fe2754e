// The SSH client against a real OpenSSH sshd: what the peer can only imitate
// (fingerprints as ssh-keygen prints them, the login shell, sshd's signal handling).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection, type SshTarget } from "../../activities/ssh/client";
import { SshError } from "../../activities/ssh/errors";
import { generateKeyPair } from "../../activities/ssh/keys";
import { script, toShell } from "../../activities/ssh/shell";
import { startSshd, type RunningSshd } from "../fixtures/sshd";

let sshd: RunningSshd;
let target: SshTarget;
let c: SshConnection;

beforeAll(async () => {
  sshd = await startSshd();
  const key = generateKeyPair("brokeforge-test");
  await sshd.authorize(key.publicKey);
  target = { host: sshd.host, port: sshd.port, username: "root", privateKey: key.privateKey, expectedHostKey: null };
  const t0 = performance.now();
  c = await connect(target);
  const connectMs = performance.now() - t0;
  const t1 = performance.now();
  await c.exec("true");
  console.info(`sshd: connect ${connectMs.toFixed(0)} ms, first exec ${(performance.now() - t1).toFixed(0)} ms`);
});

afterAll(async () => {
  c?.close();
  await sshd?.stop();
});

/** Pids of processes on this machine whose command line contains `token`. */
function pids(token: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", token], { encoding: "utf8" }).trim().split("\n").map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function waitUntilGone(token: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (pids(token).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(pids(token)).toEqual([]);
}

describe("real sshd", () => {
  it("host key fingerprint matches ssh-keygen -lf, and pinning works both ways", async () => {
    expect(c.hostKey).toEqual({ fingerprint: sshd.hostKeyFingerprint, algorithm: "ssh-ed25519" });
    const pinned = await connect({ ...target, expectedHostKey: sshd.hostKeyFingerprint });
    pinned.close();
    const e = await connect({ ...target, expectedHostKey: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SshError);
    expect(e).toMatchObject({ kind: "host_key_mismatch", permanent: true });
  });

  it("unauthorized key → auth", async () => {
    const e = await connect({ ...target, privateKey: generateKeyPair("x").privateKey }).catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: "auth", permanent: true });
  });

  it("exit codes and stderr come back", async () => {
    expect(await c.exec("echo out; echo err >&2; exit 3")).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
  });

  it("a script whose 2nd of 3 steps fails reports that step and its exit code", async () => {
    const s = script([
      { label: "write", argv: ["printf", "%s\n", "step one"] },
      { label: "fail", argv: ["sh", "-c", 'echo "about to fail" >&2; exit 7'] },
      { label: "never", argv: ["touch", "/tmp/bf-should-not-exist"] },
    ]);
    const t0 = performance.now();
    const r = await c.exec(s.command);
    console.info(`sshd: 3-step script in one channel ${(performance.now() - t0).toFixed(0)} ms`);
    expect(r.exitCode).toBe(7);
    const p = s.parse(r.stdout, r.stderr);
    expect(p.failed).toMatchObject({ index: 1, label: "fail", exitCode: 7, stderr: "about to fail\n" });
    expect(p.steps.map((x) => x.status)).toEqual(["ok", "failed", "not_run"]);
    expect(p.steps[0]!.stdout).toBe("step one\n");
  });

  it("hostile argv arrives byte-identical through the remote login shell", async () => {
    const hostile = [
      "",
      "'",
      "it's",
      "a;b",
      "$(id)",
      "`id`",
      "${HOME}",
      "a\nb",
      "*",
      "-rf",
      "~root",
      "!!",
      "if",
      "ünïcødé 日本 😀",
      "\\",
      '"',
      "\t\r\x1b[31m",
      "x".repeat(20_000),
      "'".repeat(500),
    ];
    const r = await c.exec(toShell(["printf", "%s\\0", ...hostile]));
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(hostile);
    // And nested inside a script (quoted twice: once for the step, once for bash -c).
    const s = script([{ label: "echo", argv: ["printf", "%s\\0", ...hostile] }]);
    const r2 = await c.exec(s.command);
    expect(s.parse(r2.stdout).steps[0]!.stdout.split("\0").slice(0, -1)).toEqual(hostile);
  });

  // OpenSSH ignores SSH signal requests for root ("session signalling requires
  // privilege separation") and leaves a closed channel's process running:
  // only the lifeline wrapper stops it.
  it.each(["timeout", "abort"])("%s kills the remote process group (lifeline)", async (how) => {
    // A unique sleep duration marks the shells and their child sleep in `pgrep -f`.
    const token = `sleep 29.${randomBytes(3).readUIntBE(0, 3)}`;
    const opts = how === "timeout" ? { timeoutMs: 3000 } : { signal: AbortSignal.timeout(3000) };
    const p = c.exec(toShell(["bash", "-c", `${token}; echo done`]), opts).catch((e: unknown) => e);
    // The shell and its sleep are running (polled: a loaded machine may take a moment to start them).
    await expect.poll(() => pids(token).length, { timeout: 2500, interval: 50 }).toBeGreaterThanOrEqual(2);
    expect(await p).toMatchObject(how === "timeout" ? { kind: "command_timeout" } : { name: "TimeoutError" });
    await waitUntilGone(token);
    expect((await c.exec("echo alive")).stdout).toBe("alive\n");
  });

  it("a dropped connection kills the remote command too", async () => {
    const other = await connect(target);
    const token = `sleep 29.${randomBytes(3).readUIntBE(0, 3)}`;
    const p = other.exec(token).catch((e: unknown) => e);
    // Running on the server before the connection goes (polled: it takes a moment to start).
    await expect.poll(() => pids(token).length, { timeout: 5000, interval: 50 }).toBeGreaterThan(0);
    other.close();
    expect(await p).toMatchObject({ kind: "dropped" });
    await waitUntilGone(token);
  });

  it("without the lifeline a timed-out command keeps running (why the lifeline exists)", async () => {
    const token = `sleep 29.${randomBytes(3).readUIntBE(0, 3)}`;
    const refusals = () => sshd.log().split("session signalling requires privilege separation").length - 1;
    const before = refusals();
    await expect(c.exec(token, { timeoutMs: 200, killGraceMs: 100, lifeline: false })).rejects.toMatchObject({ kind: "command_timeout" });
    // sshd has refused both signals (TERM, then KILL after the grace) ...
    await expect.poll(refusals, { timeout: 5000, interval: 50 }).toBe(before + 2);
    // ... and the channel close that followed them: a command on the same connection is
    // handled after it.
    expect((await c.exec("echo after")).stdout).toBe("after\n");
    const left = pids(token);
    expect(left.length).toBe(1);
    for (const pid of left) process.kill(pid, "SIGKILL"); // the sleep this test started
  });

  it("many commands in parallel over one connection", async () => {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => c.exec(`echo ${i}`)));
    console.info(`sshd: 8 parallel execs ${(performance.now() - t0).toFixed(0)} ms`);
    expect(rs.map((r) => r.stdout)).toEqual(Array.from({ length: 8 }, (_, i) => `${i}\n`));
  });
});
