// The SSH client against the in-process ssh2 peer: every failure mode we can
// provoke deterministically (hang, drop, wrong key, changed host key, ...).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection } from "../../activities/ssh/client";
import { SshError } from "../../activities/ssh/errors";
import { generateKeyPair } from "../../activities/ssh/keys";
import { script } from "../../activities/ssh/shell";
import { maxOverlap, respond, startSshPeer, type EnrolledServer, type SshPeer } from "../fixtures/ssh-peer";
import { freePort } from "../../scripts/infra/ports";

let peer: SshPeer;
let web1: EnrolledServer;
const open: SshConnection[] = [];

async function conn(target = web1.target, opts?: Parameters<typeof connect>[1]) {
  const c = await connect(target, opts);
  open.push(c);
  return c;
}

/** The rejection of `p` as an SshError (fails the test if it resolves). */
async function sshErrorOf(p: Promise<unknown>): Promise<SshError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SshError);
  return e as SshError;
}

beforeAll(async () => {
  peer = await startSshPeer();
  web1 = peer.enroll("web-1");
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
  peer.script(() => undefined);
  peer.reset();
});
afterAll(() => peer.stop());

describe("exec against the peer", () => {
  it("runs commands with scripted output and exit codes", async () => {
    peer.script(respond.chain(respond.os({ arch: "aarch64" }), respond.when("false", { exitCode: 1, stderr: "nope\n" })));
    const c = await conn();
    expect(await c.exec("uname -m")).toMatchObject({ exitCode: 0, stdout: "aarch64\n", stderr: "", truncated: false });
    expect(await c.exec("cat /etc/os-release")).toMatchObject({ stdout: expect.stringContaining('VERSION_ID="24.04"') });
    expect(await c.exec("false")).toMatchObject({ exitCode: 1, stderr: "nope\n" });
    expect(await c.exec("anything else")).toMatchObject({ exitCode: 0, stdout: "" });
    expect(peer.commands("web-1")).toEqual(["uname -m", "cat /etc/os-release", "false", "anything else"]);
    expect(peer.execsFor("web-1").map((e) => e.exitCode)).toEqual([0, 0, 1, 0]);
  });

  it("reports trust-on-first-use host key equal to the peer fingerprint", async () => {
    const c = await conn({ ...web1.target, expectedHostKey: null });
    expect(c.hostKey).toEqual({ fingerprint: peer.hostKeyFingerprint, algorithm: "ssh-ed25519" });
    expect(c.hostKey.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("honours scripted delays", async () => {
    peer.script(respond.delay(300, "slow"));
    const c = await conn();
    const r = await c.exec("slow thing");
    expect(r.durationMs).toBeGreaterThanOrEqual(290);
  });

  it("failNth fails only the nth matching command", async () => {
    peer.script(respond.failNth(2, "apt-get", { exitCode: 100, stderr: "E: Could not get lock\n" }));
    const c = await conn();
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await c.exec("apt-get update")).exitCode);
    expect(codes).toEqual([0, 100, 0]);
  });

  it("a hanging command times out, is signalled, and the connection stays usable", async () => {
    peer.script(respond.when("hang", { hang: true }));
    const c = await conn();
    const e = await sshErrorOf(c.exec("hang forever", { timeoutMs: 200 }));
    expect(e).toMatchObject({ kind: "command_timeout", permanent: false });
    expect(e.message).toMatch(/timed out after 200 ms.*hang forever/);
    const rec = await peer.waitForExec((x) => x.command === "hang forever" && x.endedAt !== null);
    expect(rec).toMatchObject({ outcome: "signal", signal: "TERM" });
    expect((await c.exec("still alive?")).exitCode).toBe(0);
  });

  it('a TCP drop mid-command is "dropped" (transient)', async () => {
    peer.script(respond.when("drop", { stdout: "half", drop: true }));
    const c = await conn();
    const e = await sshErrorOf(c.exec("drop me"));
    expect(e).toMatchObject({ kind: "dropped", permanent: false });
    expect(c.closed).toBe(true);
    await expect(sshErrorOf(c.exec("after"))).resolves.toMatchObject({ kind: "dropped" });
  });

  it("dropAll(serverKey) kills in-flight commands of that server only", async () => {
    const web2 = peer.enroll("web-2");
    peer.script(respond.when("wait", { delayMs: 300 }));
    const [c1, c2] = await Promise.all([conn(), conn(web2.target)]);
    const p1 = c1.exec("wait");
    const p2 = c2.exec("wait");
    await peer.waitForExec((e) => e.serverKey === "web-1");
    peer.dropAll("web-1");
    expect((await sshErrorOf(p1)).kind).toBe("dropped");
    expect((await p2).exitCode).toBe(0);
  });

  it("keeps the tail of oversized output and says so", async () => {
    const big = `${"x".repeat(10_000)}\nLAST LINE: the error\n`;
    peer.script(() => ({ stdout: big, stderr: "small" }));
    const c = await conn();
    const r = await c.exec("noisy", { maxOutputBytes: 100 });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toMatch(/^\[output truncated: first 9922 bytes omitted\]\n/);
    expect(r.stdout.endsWith("LAST LINE: the error\n")).toBe(true);
    expect(Buffer.byteLength(r.stdout.split("\n").slice(1).join("\n"))).toBe(100);
    expect(r.stderr).toBe("small");
  });

  it("redacts secrets in output, streamed chunks (even split across packets) and errors", async () => {
    const secret = "hunter2-s3cret";
    peer.script((cmd) =>
      cmd.startsWith("printf") ? { execute: true } : { stdout: `pw=${secret}\n`, hang: cmd === "hang" ? true : undefined },
    );
    const c = await conn();
    const chunks: string[] = [];
    // Really executed: the secret arrives in two chunks 50 ms apart.
    const r = await c.exec(`printf 'pw=hunter2'; sleep 0.05; printf '%s\\n' '-s3cret done'`, {
      redact: [secret],
      onOutput: (ch) => chunks.push(ch.text),
    });
    expect(r.stdout).toBe("pw=[redacted] done\n");
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.join("")).toBe("pw=[redacted] done\n");
    expect((await c.exec("show", { redact: [secret] })).stdout).toBe("pw=[redacted]\n");
    const e = await sshErrorOf(c.exec(`hang`, { timeoutMs: 50, redact: ["hang"] }));
    expect(e.message).not.toContain("hang");
  });

  it("abort stops the remote command (signal + channel close)", async () => {
    peer.script(respond.when("sleep", { execute: true }));
    const c = await conn();
    const ac = new AbortController();
    const p = c.exec("sleep 30", { signal: ac.signal });
    await peer.waitForExec((e) => e.command === "sleep 30");
    const t0 = Date.now();
    ac.abort(new Error("user cancelled"));
    await expect(p).rejects.toThrow("user cancelled");
    const rec = await peer.waitForExec((e) => e.command === "sleep 30" && e.endedAt !== null);
    expect(rec).toMatchObject({ outcome: "signal", signal: "TERM" });
    expect(rec.endedAt! - t0).toBeLessThan(1000);
    // An already-aborted signal never starts anything.
    await expect(c.exec("sleep 1", { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(peer.commands()).toEqual(["sleep 30"]);
  });
});

describe("connection failures", () => {
  it("unknown key → auth (permanent)", async () => {
    const stranger = generateKeyPair("stranger");
    const e = await sshErrorOf(connect({ ...web1.target, privateKey: stranger.privateKey }));
    expect(e).toMatchObject({ kind: "auth", permanent: true });
    expect(e.message).toContain(`Authentication failed for root@127.0.0.1:${peer.port}`);
    expect(e.message).not.toContain("PRIVATE KEY");
  });

  it("changed host key → host_key_mismatch (permanent), never connects", async () => {
    const pinned = peer.hostKeyFingerprint;
    const rotated = peer.rotateHostKey();
    try {
      const e = await sshErrorOf(connect({ ...web1.target, expectedHostKey: pinned }));
      expect(e).toMatchObject({ kind: "host_key_mismatch", permanent: true });
      expect(e.message).toBe(
        `Host key for 127.0.0.1:${peer.port} changed: expected ${pinned}, got ${rotated}. If you rebuilt the server, reset the pinned key.`,
      );
      expect(peer.connectionsFor("web-1")).toHaveLength(0);
      expect((await conn({ ...web1.target, expectedHostKey: rotated })).hostKey.fingerprint).toBe(rotated);
    } finally {
      web1.target.expectedHostKey = peer.hostKeyFingerprint;
    }
  });

  it("closed port → refused (transient)", async () => {
    const port = await freePort();
    const e = await sshErrorOf(connect({ ...web1.target, port }));
    expect(e).toMatchObject({ kind: "refused", permanent: false });
  });

  it("unparsable private key → error without the key in it", async () => {
    const e = await sshErrorOf(connect({ ...web1.target, privateKey: "not a key SECRETSTUFF" }));
    expect(e.message).not.toContain("SECRETSTUFF");
  });
});

describe("scripts on the peer", () => {
  it("emulates script() per step: handler sees each command, markers parse", async () => {
    peer.script(respond.when((cmd, ctx) => ctx.step?.index === 1, { stdout: "out1", stderr: "E: broken\n", exitCode: 42 }));
    const c = await conn();
    const s = script([
      { label: "update", argv: ["apt-get", "update"] },
      { label: "install", argv: ["apt-get", "install", "-y", "nginx"] },
      { label: "start", argv: ["systemctl", "start", "nginx"] },
    ]);
    const r = await c.exec(s.command);
    expect(r.exitCode).toBe(42);
    const p = s.parse(r.stdout, r.stderr);
    expect(p.failed).toMatchObject({ index: 1, label: "install", exitCode: 42, stdout: "out1", stderr: "E: broken\n" });
    expect(p.steps[2]!.status).toBe("not_run");
    expect(peer.commands("web-1")).toEqual(["apt-get update", "apt-get install -y nginx"]);
    expect(peer.execsFor("web-1")).toHaveLength(1); // one channel for the whole script
  });

  it("executes scripts for real when asked (markers from real bash)", async () => {
    const real = await startSshPeer({ execute: true });
    try {
      const srv = real.enroll("real");
      const c = await connect(srv.target);
      open.push(c);
      const s = script([
        { label: "ok", argv: ["printf", "%s", "it's $(fine)"] },
        { label: "fail", argv: ["bash", "-c", "exit 3"] },
      ]);
      const r = await c.exec(s.command);
      const p = s.parse(r.stdout, r.stderr);
      expect(r.exitCode).toBe(3);
      expect(p.steps[0]!.stdout).toBe("it's $(fine)");
      expect(p.failed).toMatchObject({ index: 1, exitCode: 3 });
    } finally {
      await real.stop();
    }
  });
});

describe("concurrency accounting", () => {
  it("tracks overlap per serverKey and overall", async () => {
    const web2 = peer.enroll("web-2");
    peer.script(respond.delay(150));
    const c1 = await conn();
    const c2 = await conn(web2.target);
    // web-1: three channels at once on one connection; web-2: strictly sequential.
    const parallel = Promise.all([c1.exec("a"), c1.exec("b"), c1.exec("c")]);
    await c2.exec("x");
    await c2.exec("y");
    await parallel;
    expect(peer.maxConcurrency("web-1")).toBe(3);
    expect(peer.maxConcurrency("web-2")).toBe(1);
    expect(peer.maxConcurrency()).toBe(4);
    expect(maxOverlap(peer.execsFor("web-1"))).toBe(3);
    expect(maxOverlap(peer.execsFor("web-2"))).toBe(1);
    expect(peer.connectionsFor("web-1")).toHaveLength(1);
  });
});
