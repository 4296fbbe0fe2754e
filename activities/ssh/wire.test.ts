// What goes over SSH (shell.ts `wireCommand`): the lifeline and `sudo -n` around a command,
// as exact strings, then run locally through a stand-in `sudo` to show the composition holds
// (the command through stdin, control lines after it, exit codes). A real sudo on Debian: tests/debian/onboarding.test.ts.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { afterAll, describe, expect, it } from "vitest";
import { SshConnection, sudoRefusal, type SshTarget } from "./client";
import { script, wireCommand, withLifeline, type Wire } from "./shell";

const LIFELINE = `exec 3<&0
set -m
bash --norc --noprofile -c "$1" </dev/null 3<&- &
pid=$!
set +m
{
  while IFS= read -r sig; do
    case "$sig" in TERM|KILL|INT|HUP) kill -s "$sig" -- "-$pid" ;; esac
  done
  kill -s TERM -- "-$pid"; sleep 2; kill -s KILL -- "-$pid"
} <&3 >/dev/null 2>&1 &
exec 3<&-
watch=$!
wait "$pid" 2>/dev/null; rc=$?
kill "$watch" 2>/dev/null
exit "$rc"`;

const READ = `IFS= read -r -d "" c || { echo "brokeforge: no command on stdin" >&2; exit 2; }; set -- "$c"; unset c`;

describe("wireCommand", () => {
  const cmd = "echo it's";

  it("root, no lifeline: the command as it is", () => {
    expect(wireCommand(cmd, { lifeline: false, sudo: false })).toEqual({ command: "echo it's" });
  });

  it("root, lifeline: bash runs the lifeline with the command as $1", () => {
    expect(wireCommand(cmd, { lifeline: true, sudo: false })).toEqual({
      command: `exec bash --norc --noprofile -c '${LIFELINE}' brokeforge 'echo it'\\''s'`,
    });
    expect(withLifeline(cmd)).toBe(wireCommand(cmd, { lifeline: true, sudo: false }).command);
  });

  it("sudo, no lifeline: sudo -n runs bash, which reads the command from stdin up to a NUL and runs it", () => {
    expect(wireCommand(cmd, { lifeline: false, sudo: true })).toEqual({
      command: `exec sudo -n -- bash --norc --noprofile -c '${READ}\nexec bash --norc --noprofile -c "$1"' brokeforge`,
      stdin: "echo it's\0",
    });
  });

  it("sudo, lifeline: sudo -n goes around the whole lifeline (the watcher is root too), the command comes on stdin", () => {
    expect(wireCommand(cmd, { lifeline: true, sudo: true })).toEqual({
      command: `exec sudo -n -- bash --norc --noprofile -c '${READ}\n${LIFELINE}' brokeforge`,
      stdin: "echo it's\0",
    });
  });

  it("what sudo runs (and logs) is the same for every command: no script, no secret in it", () => {
    const secret = script([{ label: "config", argv: ["sh", "-c", 'printf %s "$1" >/etc/app.conf', "sh", "password=hunter2"] }]).command;
    const wire = wireCommand(secret, { lifeline: true, sudo: true });
    expect(wire.command).toBe(wireCommand("true", { lifeline: true, sudo: true }).command);
    expect(wire.command).not.toContain("hunter2");
    expect(wire.stdin).toBe(`${secret}\0`);
  });

  it("refuses a command with a NUL byte (it would end the command early)", () => {
    expect(() => wireCommand("echo a\0b", { lifeline: true, sudo: true })).toThrow(/NUL/);
  });
});

describe("the sudo wire, run through a stand-in sudo", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bf-wire-"));
  // Refuses anything but `-n --` (a prompt would hang), then runs the rest.
  writeFileSync(
    path.join(dir, "sudo"),
    `#!/bin/sh\n[ "$1" = -n ] && [ "$2" = -- ] || { echo "sudo: wrong options: $*" >&2; exit 1; }\nshift 2\nexec "$@"\n`,
  );
  chmodSync(path.join(dir, "sudo"), 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Like sshd and client.ts: the login shell gets the command line with -c, the channel is its stdin, the payload goes first. */
  function run(wire: Wire, then: (stdin: NodeJS.WritableStream) => void) {
    const child = spawn("sh", ["-c", wire.command], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    if (wire.stdin !== undefined) child.stdin.write(wire.stdin);
    then(child.stdin);
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on("close", (code) => resolve({ code, stdout, stderr })),
    );
  }

  it("passes a script (quotes, backslashes, newlines, unicode) and its exit code through exactly", async () => {
    const hostile = 'it\'s \\n $HOME `id` "q"\n\ttab ünï 😀\n';
    const rendered = script([
      { label: "say", argv: ["printf", "%s", hostile] },
      { label: "fail", argv: ["sh", "-c", "exit 7"] },
    ]);
    const r = await run(wireCommand(rendered.command, { lifeline: true, sudo: true }), () => {});
    expect(r.code).toBe(7);
    const parsed = rendered.parse(r.stdout, r.stderr);
    expect(parsed.steps.map((s) => [s.status, s.stdout])).toEqual([
      ["ok", hostile],
      ["failed", ""],
    ]);
  });

  it('"TERM" after the command still stops it (control lines reach the lifeline through sudo)', async () => {
    const r = await run(wireCommand("echo started; sleep 30; echo never", { lifeline: true, sudo: true }), (stdin) =>
      stdin.write("TERM\n"),
    );
    expect(r.code).toBe(143);
    expect(r.stdout).not.toContain("never");
  });

  it("without the lifeline, reading the command takes not one byte of what follows it on stdin", async () => {
    const r = await run(wireCommand('echo "$0"; cat', { lifeline: false, sudo: true }), (stdin) => stdin.end("after the NUL\n"));
    expect(r).toMatchObject({ code: 0, stdout: "bash\nafter the NUL\n" });
  });

  it("no command on stdin: exits 2 and says so", async () => {
    const r = await run({ command: wireCommand("true", { lifeline: true, sudo: true }).command }, (stdin) => stdin.end());
    expect(r).toMatchObject({ code: 2, stderr: "brokeforge: no command on stdin\n" });
  });
});

describe("sudoRefusal", () => {
  it.each([
    [1, "", "sudo: a password is required\n", "sudo: a password is required"],
    [
      1,
      "",
      "sudo: unable to resolve host web-1: Name or service not known\nsudo: a password is required\n",
      "sudo: a password is required",
    ],
    [
      1,
      "",
      "Sorry, user deploy is not allowed to execute '/usr/bin/bash --norc' as root on web-1.\n",
      "Sorry, user deploy is not allowed to execute '/usr/bin/bash --norc' as root on web-1.",
    ],
    [1, "", "deploy is not in the sudoers file.\n", "deploy is not in the sudoers file."],
    [127, "", "sh: 1: exec: sudo: not found\n", "sh: 1: exec: sudo: not found"],
    [127, "", "bash: line 1: exec: sudo: not found\n", "bash: line 1: exec: sudo: not found"],
  ])("exit %s, stderr %j: refused", (code, stdout, stderr, expected) => {
    expect(sudoRefusal(code, stdout, stderr)).toBe(expected);
  });

  it.each([
    [0, "", "sudo: a password is required\n"], // exit 0: it ran
    [1, "\n::bf-step:abc:begin:0\n", "sudo: a password is required\n"], // the script started: its own failure
    [2, "", "sudo: a password is required\n"], // not sudo's exit code
    [1, "", "E: Unable to locate package nope\n"],
    [127, "", "bash: line 1: ufw: command not found\n"],
    [1, "", "sudo: unable to resolve host web-1: Name or service not known\n"],
    [1, "", "ERROR 1045: a password is required for user app\n"], // a command's own words, not sudo's
  ])("exit %s, stdout %j, stderr %j: not a refusal", (code, stdout, stderr) => {
    expect(sudoRefusal(code, stdout, stderr)).toBeNull();
  });
});

describe("SshConnection", () => {
  const connection = (target: Partial<SshTarget>) =>
    new SshConnection(
      new ssh2.Client(),
      { host: "127.0.0.1", port: 22, username: "root", privateKey: "", expectedHostKey: null, ...target },
      { fingerprint: "SHA256:x", algorithm: "ssh-ed25519" },
    );

  it("goes through sudo exactly when root is wanted and the login user is someone else", () => {
    expect(connection({ username: "root" }).sudo).toBe(false);
    expect(connection({ username: "admin" }).sudo).toBe(true);
    expect(connection({ username: "admin", runAs: "root" }).sudo).toBe(true);
    expect(connection({ username: "brokeforge", runAs: "login" }).sudo).toBe(false);
  });
});
