// The SSH client against the in-process ssh2 peer, and the peer itself: commands really run
// on each enrolled server's fake server (its own mount namespace), byte for byte as sent, and
// the exact faults no command produces on cue (a hang that ignores everything, a TCP drop) are
// scripted.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect, type SshConnection } from "../../activities/ssh/client";
import { startOrAttach } from "../../activities/ssh/detached";
import { SshError } from "../../activities/ssh/errors";
import { generateKeyPair } from "../../activities/ssh/keys";
import { script } from "../../activities/ssh/shell";
import { maxOverlap, respond, startSshPeer, type EnrolledServer, type FakeServer, type SshPeer } from "../fixtures/ssh-peer";
import { freePort } from "../../scripts/infra/ports";
import { eventually } from "../setup/app";

let peer: SshPeer;
let web1: EnrolledServer;
let web2: EnrolledServer;
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

/** Command lines of every process running on the fake server. */
function commandLines(server: FakeServer): string[] {
  return server.processes().flatMap((pid) => {
    try {
      return [readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()];
    } catch {
      return [];
    }
  });
}
/** Waits until no process on `server` runs a command line containing `text`. */
const untilGone = (server: FakeServer, text: string) =>
  eventually(async () => !commandLines(server).some((c) => c.includes(text)) || null, 10_000);

beforeAll(async () => {
  peer = await startSshPeer();
  web1 = peer.enroll("web-1");
  web2 = peer.enroll("web-2");
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
  peer.script(() => undefined);
  peer.reset();
});
afterAll(() => peer.stop());

describe("commands run for real on the server", () => {
  it("runs the command with bash, with its real output and exit code", async () => {
    const c = await conn();
    expect(await c.exec("printf '%s' \"it's $((6 * 7))\"; echo oops >&2")).toMatchObject({
      exitCode: 0,
      stdout: "it's 42",
      stderr: "oops\n",
    });
    expect(await c.exec("exit 3")).toMatchObject({ exitCode: 3 });
    expect(await c.exec("no-such-command-anywhere")).toMatchObject({ exitCode: 127, stderr: expect.stringContaining("not found") });
    // Recorded as received: the client's lifeline wrapper included, nothing decoded.
    expect(peer.commands("web-1")).toHaveLength(3);
    expect(peer.commands("web-1")[1]).toContain("exit 3");
    expect(peer.commands("web-1")[1]).not.toBe("exit 3");
    expect(peer.execsFor("web-1").map((e) => [e.exitCode, e.scripted])).toEqual([
      [0, false],
      [3, false],
      [127, false],
    ]);
  });

  it("gives each server a filesystem of its own: nothing a command writes reaches the host or another server", async () => {
    const [s1, s2] = [await peer.server("web-1"), await peer.server("web-2")];
    const c1 = await conn();
    const dir = `/etc/bf-peer-test-${process.pid}`;
    expect((await c1.exec(`mkdir -p ${dir} && echo one > ${dir}/f && echo tmp > /tmp/f && echo home > ~/f`)).exitCode).toBe(0);
    expect(s1.read(`${dir}/f`)).toBe("one\n");
    expect(s1.read("/root/f")).toBe("home\n");
    expect(existsSync(dir)).toBe(false);
    const c2 = await conn(web2.target);
    expect(await c2.exec(`cat ${dir}/f /tmp/f`)).toMatchObject({ exitCode: 1 });
    expect(s2.exists(`${dir}/f`)).toBe(false);
  });

  it("starts like a fresh server: /root holds only /etc/skel's dotfiles and /home is empty, none of this machine's", async () => {
    const c = await conn(peer.enroll("fresh").target); // a server of its own: other tests write to web-1's /root
    const skel = readdirSync("/etc/skel").sort().join("\n");
    const r = await c.exec("ls -A /root | sort; echo --; ls -A /home");
    expect(r.stdout).toBe(`${skel}\n--\n`);
  });

  it("runs like a root login: HOME and cwd /root, the stub tools first on PATH, no systemd", async () => {
    const c = await conn();
    const r = await c.exec('echo "$USER $HOME $PWD"; command -v ufw apt-get; [ -d /run/systemd/system ] || echo no-systemd');
    expect(r.stdout).toBe("root /root /root\n/run/stub-tools/bin/ufw\n/run/stub-tools/bin/apt-get\nno-systemd\n");
    expect((await c.exec("ufw allow proto tcp from any to any port 80 comment x")).stdout).toBe("Rule added\n");
    expect((await peer.server("web-1")).stubState("ufw-rules")).toBe("allow proto tcp from any to any port 80 comment x\n");
  });

  it("a handler's delay holds the command, which then runs for real", async () => {
    peer.script(respond.delay(50, "marker-delay"));
    const c = await conn();
    expect(await c.exec("echo marker-delay $((1 + 1))")).toMatchObject({ exitCode: 0, stdout: "marker-delay 2\n" });
    expect(peer.execsFor("web-1")[0]!.scripted).toBe(false);
  });

  it("a command past its timeout is stopped through the lifeline; the connection stays usable", async () => {
    const server = await peer.server("web-1");
    const c = await conn();
    const e = await sshErrorOf(c.exec("sleep 31.25", { timeoutMs: 200 }));
    expect(e).toMatchObject({ kind: "command_timeout", permanent: false });
    expect(e.message).toMatch(/timed out after 200 ms.*sleep 31\.25/);
    // The lifeline got TERM on stdin, killed its command, and exited as bash does: 128 + 15.
    const rec = await peer.waitForExec((x) => x.command.includes("sleep 31.25") && x.endedAt !== null);
    expect(rec).toMatchObject({ outcome: "exit", exitCode: 143 });
    await untilGone(server, "sleep 31.25");
    expect((await c.exec("echo still alive")).stdout).toBe("still alive\n");
  });

  it("abort stops the remote command", async () => {
    const server = await peer.server("web-1");
    const c = await conn();
    const ac = new AbortController();
    const p = c.exec("sleep 30.5", { signal: ac.signal });
    await eventually(async () => commandLines(server).some((l) => l === "sleep 30.5") || null);
    ac.abort(new Error("user cancelled"));
    await expect(p).rejects.toThrow("user cancelled");
    await untilGone(server, "sleep 30.5");
    // An already-aborted signal never starts anything.
    await expect(c.exec("sleep 1", { signal: AbortSignal.abort() })).rejects.toThrow();
    expect(peer.execsFor("web-1")).toHaveLength(1);
  });

  it("a dropped connection reaches the command's stdin as EOF: the lifeline stops it", async () => {
    const server = await peer.server("web-1");
    const c = await conn();
    const p = c.exec("sleep 32.5");
    await eventually(async () => commandLines(server).some((l) => l === "sleep 32.5") || null);
    peer.dropAll("web-1");
    expect((await sshErrorOf(p)).kind).toBe("dropped");
    await untilGone(server, "sleep 32.5");
    expect((await peer.waitForExec((x) => x.endedAt !== null)).outcome).toBe("dropped");
  });

  it("without the lifeline, an SSH signal request stops the command's process group", async () => {
    const server = await peer.server("web-1");
    const c = await conn();
    const e = await sshErrorOf(c.exec("sleep 33.5; echo not reached", { timeoutMs: 200, lifeline: false }));
    expect(e.kind).toBe("command_timeout");
    const rec = await peer.waitForExec((x) => x.endedAt !== null);
    expect(rec).toMatchObject({ outcome: "signal", signal: "TERM" });
    await untilGone(server, "sleep 33.5");
  });

  it("dropAll(serverKey) cuts the connections of that server only", async () => {
    const [c1, c2] = await Promise.all([conn(), conn(web2.target)]);
    // Both commands wait for a file only the test creates, so both are running at the drop.
    const waitFor = "until [ -e /tmp/go ]; do sleep 0.01; done; echo done";
    const p1 = c1.exec(waitFor);
    const p2 = c2.exec(waitFor);
    await peer.waitForExec((e) => e.serverKey === "web-1");
    await peer.waitForExec((e) => e.serverKey === "web-2");
    peer.dropAll("web-1");
    expect((await sshErrorOf(p1)).kind).toBe("dropped");
    (await peer.server("web-2")).write("/tmp/go", "");
    expect(await p2).toMatchObject({ exitCode: 0, stdout: "done\n" });
  });

  it("keeps the tail of oversized output and says so", async () => {
    const c = await conn();
    const r = await c.exec("head -c 10000 /dev/zero | tr '\\0' x; printf '\\nLAST LINE: the error\\n'; printf small >&2", {
      maxOutputBytes: 100,
    });
    expect(r.truncated).toBe(true);
    expect(r.stdout).toMatch(/^\[output truncated: first 9922 bytes omitted\]\n/);
    expect(r.stdout.endsWith("LAST LINE: the error\n")).toBe(true);
    expect(Buffer.byteLength(r.stdout.split("\n").slice(1).join("\n"))).toBe(100);
    expect(r.stderr).toBe("small");
  });

  it("redacts secrets in output, streamed chunks (even split across packets) and errors", async () => {
    const secret = "hunter2-s3cret";
    const c = await conn();
    const chunks: string[] = [];
    // The secret arrives in two chunks 50 ms apart.
    const r = await c.exec(`printf 'pw=hunter2'; sleep 0.05; printf '%s\\n' '-s3cret done'`, {
      redact: [secret],
      onOutput: (ch) => chunks.push(ch.text),
    });
    expect(r.stdout).toBe("pw=[redacted] done\n");
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.join("")).toBe("pw=[redacted] done\n");
    expect((await c.exec(`echo pw=${secret}`, { redact: [secret] })).stdout).toBe("pw=[redacted]\n");
    const e = await sshErrorOf(c.exec(`sleep 5 # hang`, { timeoutMs: 50, redact: ["hang"] }));
    expect(e.message).not.toContain("hang");
  });
});

describe("scripted faults", () => {
  it("a scripted hang answers nothing and ends only when the client closes the channel", async () => {
    // Scripted: a command that ignores TERM and stdin is what this fault is about.
    peer.script(respond.when("never answers", { hang: true }));
    const c = await conn();
    const e = await sshErrorOf(c.exec("echo never answers", { timeoutMs: 100, killGraceMs: 100 }));
    expect(e.kind).toBe("command_timeout");
    const rec = await peer.waitForExec((x) => x.endedAt !== null);
    expect(rec).toMatchObject({ outcome: "closed", scripted: true });
    expect((await c.exec("echo still alive")).stdout).toBe("still alive\n");
  });

  it('a TCP drop mid-command is "dropped" (transient)', async () => {
    // Scripted: output, then the connection cut at that exact point.
    peer.script(respond.when("drop me", { stdout: "half", drop: true }));
    const c = await conn();
    const e = await sshErrorOf(c.exec("echo drop me"));
    expect(e).toMatchObject({ kind: "dropped", permanent: false });
    expect(c.closed).toBe(true);
    await expect(sshErrorOf(c.exec("after"))).resolves.toMatchObject({ kind: "dropped" });
  });

  it("failNth fails only the nth matching command; the others really run", async () => {
    // Scripted: this checks the helper other tests use to script an exact failing reply.
    peer.script(respond.failNth(2, "apt-get", { exitCode: 100, stderr: "E: Could not get lock\n" }));
    const c = await conn();
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await c.exec("apt-get update"));
    expect(results.map((r) => r.exitCode)).toEqual([0, 100, 0]);
    expect(results[1]!.stderr).toBe("E: Could not get lock\n");
    expect((await peer.server("web-1")).calls("apt-get")).toEqual([
      ["apt-get", "update"],
      ["apt-get", "update"],
    ]);
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

  it("the right key for another login user → auth (permanent): a key is authorized for one user", async () => {
    const e = await sshErrorOf(connect({ ...web1.target, username: "deploy" }));
    expect(e).toMatchObject({ kind: "auth", permanent: true });
    expect(e.message).toContain(`Authentication failed for deploy@127.0.0.1:${peer.port}`);
    const deploy = peer.enroll("web-deploy", { username: "deploy" });
    await expect(sshErrorOf(connect({ ...deploy.target, username: "root" }))).resolves.toMatchObject({ kind: "auth" });
    const c = await conn(deploy.target);
    expect(peer.connectionsFor("web-deploy")).toEqual([expect.objectContaining({ username: "deploy" })]);
    c.close();
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
      web2.target.expectedHostKey = peer.hostKeyFingerprint;
    }
  });

  it("reports trust-on-first-use host key equal to the peer fingerprint", async () => {
    const c = await conn({ ...web1.target, expectedHostKey: null });
    expect(c.hostKey).toEqual({ fingerprint: peer.hostKeyFingerprint, algorithm: "ssh-ed25519" });
    expect(c.hostKey.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
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

describe("scripts and detached runs on the server", () => {
  it("a script() runs as real bash: markers, per-step output, the failing step stops it", async () => {
    const c = await conn();
    const hostile = `it's "$(id)" \`id\` * ünï`;
    const s = script([
      { label: "ok", argv: ["printf", "%s", hostile] },
      { label: "fail", argv: ["bash", "-c", "echo E: broken >&2; exit 3"] },
      { label: "never", argv: ["touch", "/root/never"] },
    ]);
    const r = await c.exec(s.command);
    const p = s.parse(r.stdout, r.stderr);
    expect(r.exitCode).toBe(3);
    expect(p.steps[0]!.stdout).toBe(hostile);
    expect(p.failed).toMatchObject({ index: 1, label: "fail", exitCode: 3, stderr: "E: broken\n" });
    expect(p.steps[2]!.status).toBe("not_run");
    expect((await peer.server("web-1")).exists("/root/never")).toBe(false);
    expect(peer.execsFor("web-1")).toHaveLength(1); // one channel for the whole script
  });

  it("a detached run outlives its dropped connection, and the retry attaches to it: it runs once", async () => {
    const server = await peer.server("web-1");
    const s = script([
      {
        label: "slow",
        argv: ["sh", "-c", "echo started; echo x >> /root/runs; until [ -e /tmp/finish ]; do sleep 0.02; done; echo finished"],
      },
    ]);
    const command = startOrAttach({ name: "brokeforge-op-peertest-1-1" }, s.body);
    const first = await conn();
    const dropped = first.exec(command);
    await eventually(async () => server.read("/root/runs") === "x\n" || null);
    peer.dropAll("web-1");
    expect((await sshErrorOf(dropped)).kind).toBe("dropped");
    const again = (await conn()).exec(command);
    await peer.waitForExec((e) => e.outcome === "running");
    server.write("/tmp/finish", "");
    const r = await again;
    expect(r.exitCode).toBe(0);
    expect(s.parse(r.stdout, r.stderr).steps[0]!.stdout).toBe("started\nfinished\n");
    expect(server.read("/root/runs")).toBe("x\n"); // the script ran once
    expect(server.read("/var/lib/brokeforge/runs/brokeforge-op-peertest-1-1/mode")).toBe("setsid\n");
  });
});

describe("concurrency accounting", () => {
  it("tracks overlap per serverKey and overall", async () => {
    const c1 = await conn();
    const c2 = await conn(web2.target);
    // web-1: three channels at once on one connection, each held until the test releases
    // them; web-2: two commands one after the other while those three run.
    const held = "until [ -e /tmp/release ]; do sleep 0.01; done";
    const parallel = Promise.all([c1.exec(held), c1.exec(held), c1.exec(held)]);
    await eventually(async () => peer.execsFor("web-1").filter((e) => e.outcome === "running").length === 3 || null);
    await c2.exec("true");
    await c2.exec("true");
    (await peer.server("web-1")).write("/tmp/release", "");
    await parallel;
    expect(peer.maxConcurrency("web-1")).toBe(3);
    expect(peer.maxConcurrency("web-2")).toBe(1);
    expect(peer.maxConcurrency()).toBe(4);
    expect(maxOverlap(peer.execsFor("web-1"))).toBe(3);
    expect(maxOverlap(peer.execsFor("web-2"))).toBe(1);
    expect(peer.connectionsFor("web-1")).toHaveLength(1);
  });
});
