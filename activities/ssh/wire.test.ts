// What goes over SSH (shell.ts `wireCommand`): the lifeline and `sudo -n` around a command,
// as exact strings, then run locally through a stand-in `sudo` to show the composition holds
// (arguments, stdin control lines, exit codes). A real sudo on Debian: tests/debian/onboarding.test.ts.
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ssh2 from "ssh2";
import { afterAll, describe, expect, it } from "vitest";
import { SshConnection, sudoRefusal, type SshTarget } from "./client";
import { script, wireCommand, withLifeline } from "./shell";

const LIFELINE_TEXT = `'exec 3<&0
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
exit "$rc"'`;

describe("wireCommand", () => {
  const cmd = "echo it's";

  it("root, no lifeline: the command as it is", () => {
    expect(wireCommand(cmd, { lifeline: false, sudo: false })).toBe("echo it's");
  });

  it("root, lifeline: bash runs the lifeline with the command as $1", () => {
    expect(wireCommand(cmd, { lifeline: true, sudo: false })).toBe(
      `exec bash --norc --noprofile -c ${LIFELINE_TEXT} brokeforge 'echo it'\\''s'`,
    );
    expect(withLifeline(cmd)).toBe(wireCommand(cmd, { lifeline: true, sudo: false }));
  });

  it("sudo, no lifeline: sudo -n runs bash -c with the command", () => {
    expect(wireCommand(cmd, { lifeline: false, sudo: true })).toBe("exec sudo -n -- bash --norc --noprofile -c 'echo it'\\''s'");
  });

  it("sudo, lifeline: sudo -n goes around the whole lifeline (the watcher is root too), the command quoted once", () => {
    expect(wireCommand(cmd, { lifeline: true, sudo: true })).toBe(
      `exec sudo -n -- bash --norc --noprofile -c ${LIFELINE_TEXT} brokeforge 'echo it'\\''s'`,
    );
  });

  it("a script costs the same bytes under sudo as under root, plus the 9 of `sudo -n -- `", () => {
    const body = script([{ label: "quotes", argv: ["printf", "%s", "'".repeat(1000)] }]).command;
    const root = wireCommand(body, { lifeline: true, sudo: false });
    expect(wireCommand(body, { lifeline: true, sudo: true }).length - root.length).toBe("sudo -n -- ".length);
  });
});

describe("the sudo wire, run through a stand-in sudo", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bf-wire-"));
  // Refuses anything but `-n --` (a prompt would hang), records that it ran, then runs the rest.
  writeFileSync(
    path.join(dir, "sudo"),
    `#!/bin/sh\n[ "$1" = -n ] && [ "$2" = -- ] || { echo "sudo: wrong options: $*" >&2; exit 1; }\nshift 2\necho ran >"${dir}/ran"\nexec "$@"\n`,
  );
  chmodSync(path.join(dir, "sudo"), 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Like sshd: the login shell gets the wire text with -c, the channel is its stdin. */
  function run(wire: string, control: (stdin: NodeJS.WritableStream) => void = () => {}) {
    const child = spawn("sh", ["-c", wire], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    control(child.stdin);
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      child.on("close", (code) => resolve({ code, stdout, stderr })),
    );
  }

  it("passes a script's output and exit code through", async () => {
    const rendered = script([
      { label: "say", argv: ["printf", "%s\\n", "it's $HOME"] },
      { label: "fail", argv: ["sh", "-c", "exit 7"] },
    ]);
    const r = await run(wireCommand(rendered.command, { lifeline: true, sudo: true }));
    expect(r.code).toBe(7);
    const parsed = rendered.parse(r.stdout, r.stderr);
    expect(parsed.steps.map((s) => [s.status, s.stdout])).toEqual([
      ["ok", "it's $HOME\n"],
      ["failed", ""],
    ]);
  });

  it('"TERM" on the channel still stops the command (stdin reaches the lifeline through sudo)', async () => {
    const r = await run(wireCommand("echo started; sleep 30; echo never", { lifeline: true, sudo: true }), (stdin) =>
      stdin.write("TERM\n"),
    );
    expect(r.code).toBe(143);
    expect(r.stdout).not.toContain("never");
  });

  it("without the lifeline too", async () => {
    const r = await run(wireCommand("echo \"$0\" 'a b'", { lifeline: false, sudo: true }));
    expect(r).toMatchObject({ code: 0, stdout: "bash a b\n" });
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
