import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { parseScriptOutput, quote, script, toShell, withLifeline } from "./shell";
import { fromShell, parseScriptCommand, scriptMarker, unwrapLifeline } from "../../tests/fixtures/shell-reader";

/** Run shell text locally and return what the shell actually handed to printf, NUL-separated. */
function argvThroughShell(shell: string, args: readonly string[]): string[] {
  const r = spawnSync(shell, ["-c", `printf '%s\\0' ${args.map(quote).join(" ")}`], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\0").slice(0, -1);
}

/** Deterministic PRNG so a failing case can be reproduced. */
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const NASTY = [..."'\"`$\\;&|<>(){}[]*?~!#%^=,:+-_./ \t\n\r\v\f\x01\x1b\x7f", "é", "ü", "日本", "😀", "\u200b", "a", "Z", "0"];

function hostileStrings(count: number, seed = 42): string[] {
  const rand = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = Math.floor(rand() * 24);
    let s = "";
    for (let j = 0; j < len; j++) s += NASTY[Math.floor(rand() * NASTY.length)];
    out.push(s);
  }
  return out;
}

const FIXED_HOSTILE = [
  "",
  "'",
  "''",
  "it's",
  "a;b",
  "$(rm -rf /)",
  "`id`",
  "${HOME}",
  "a\nb",
  "\n",
  "*",
  "?",
  "-rf",
  "--x=$(id)",
  "~",
  "~root",
  "!",
  "!!",
  "if",
  "then",
  "#not-a-comment",
  "ünïcødé 日本 😀",
  "a\\",
  "\\",
  '"',
  "'\"'\"",
  " ",
  "x".repeat(100_000),
  "'".repeat(2_000),
  "back\\slash\\n",
];

describe("quote", () => {
  it.each([
    ["", "''"],
    ["abc", "abc"],
    ["/usr/bin/env", "/usr/bin/env"],
    ["user@host:/path", "user@host:/path"],
    ["-rf", "-rf"],
    ["a,b+c", "a,b+c"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ["a;b", "'a;b'"],
    ["$(rm -rf /)", "'$(rm -rf /)'"],
    ["`id`", "'`id`'"],
    ["a\nb", "'a\nb'"],
    ["*", "'*'"],
    ["a b", "'a b'"],
    ["FOO=bar", "'FOO=bar'"],
    ["--opt=x", "'--opt=x'"],
    ["~root", "'~root'"],
    ["%1", "'%1'"],
    ["ünïcode", "'ünïcode'"],
    ["if", "'if'"],
    ["time", "'time'"],
    ["a\\b", "'a\\b'"],
  ])("quote(%j) === %j", (input, expected) => {
    expect(quote(input)).toBe(expected);
  });

  it("handles very long strings without changing them", () => {
    const long = "x".repeat(100_000);
    expect(quote(long)).toBe(long);
    expect(quote(`${long} `)).toBe(`'${long} '`);
    expect(quote("'".repeat(3))).toBe(`''\\'''\\'''\\'''`);
  });

  it("refuses NUL, which no argv can carry", () => {
    expect(() => quote("a\0b")).toThrow(/NUL/);
  });
});

describe("toShell / fromShell", () => {
  it("joins quoted words", () => {
    expect(toShell(["echo", "a b", "", "it's", "$x"])).toBe("echo 'a b' '' 'it'\\''s' '$x'");
    expect(() => toShell([])).toThrow();
  });

  it("fromShell inverts toShell", () => {
    for (const argv of [FIXED_HOSTILE, hostileStrings(200, 7)]) {
      expect(fromShell(toShell(argv))).toEqual(argv);
    }
    expect(() => fromShell("echo $(id)")).toThrow(/not produced by toShell/);
  });
});

describe("quoting through a real shell (property)", () => {
  const cases = [...FIXED_HOSTILE, ...hostileStrings(500)];

  it.each(["bash", "sh"])("every hostile string reaches %s printf byte-identical", (shell) => {
    // Batches keep each command line well below ARG_MAX.
    for (let i = 0; i < cases.length; i += 50) {
      const batch = cases.slice(i, i + 50);
      expect(argvThroughShell(shell, batch)).toEqual(batch);
    }
  });
});

describe("script", () => {
  it("renders one bash script with markers (exact)", () => {
    const s = script([{ label: "say hi", argv: ["echo", "it's"] }], { nonce: "abcdef012345" });
    expect(s.command).toBe(
      "exec bash --norc --noprofile -c 'set -euo pipefail\n" +
        "__bf_mark() { printf '\\''\\n%s\\n'\\'' \"::bf-step:abcdef012345:$1\"; printf '\\''\\n%s\\n'\\'' \"::bf-step:abcdef012345:$1\" >&2; }\n" +
        "# step 0: say hi\n" +
        "__bf_mark begin:0\n" +
        "__bf_rc=0; echo '\\''it'\\''\\'\\'''\\''s'\\'' || __bf_rc=$?\n" +
        '__bf_mark "end:0:$__bf_rc"\n' +
        'if [ "$__bf_rc" -ne 0 ]; then exit "$__bf_rc"; fi\n' +
        "'",
    );
    expect(s.labels).toEqual(["say hi"]);
  });

  it("uses a fresh random nonce each time", () => {
    const a = script([{ label: "x", argv: ["true"] }]);
    const b = script([{ label: "x", argv: ["true"] }]);
    expect(a.nonce).toMatch(/^[0-9a-f]{24}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it("rejects bad env names and oversized scripts", () => {
    expect(() => script([{ label: "x", argv: ["true"] }], { env: { "A;rm": "x" } })).toThrow(/env name/);
    expect(() => script([{ label: "x", argv: ["echo", "x".repeat(130_000)] }])).toThrow(/too long/);
  });

  it("runs locally: output per step, the failing step and its exit code", () => {
    const hostile = FIXED_HOSTILE.slice(0, 28);
    const s = script(
      [
        { label: "first", argv: ["printf", "%s\\0", ...hostile] },
        { label: "second\nfails", argv: ["bash", "-c", "echo to-err >&2; printf partial; exit 7"] },
        { label: "third", argv: ["touch", "/nonexistent/never"] },
      ],
      { env: { GREETING: "it's $(not) run" }, cwd: "/tmp" },
    );
    // The login shell on the server runs our command with `-c`, like this.
    const r = spawnSync("bash", ["-c", s.command], { encoding: "utf8" });
    expect(r.status).toBe(7);
    const p = s.parse(r.stdout, r.stderr);
    expect(p.steps.map((x) => x.status)).toEqual(["ok", "failed", "not_run"]);
    expect(p.steps[0]!.stdout.split("\0").slice(0, -1)).toEqual(hostile);
    expect(p.failed).toMatchObject({ index: 1, label: "second\nfails", exitCode: 7, stdout: "partial", stderr: "to-err\n" });
    expect(p.incomplete).toBeNull();
    expect(p.preamble).toEqual({ stdout: "", stderr: "" });
  });

  it("exports env and cds before the first step", () => {
    const s = script([{ label: "env", argv: ["bash", "-c", 'printf "%s|%s" "$GREETING" "$PWD"'] }], {
      env: { GREETING: "it's $(not) run" },
      cwd: "/tmp",
    });
    const r = spawnSync("bash", ["-c", s.command], { encoding: "utf8" });
    expect(s.parse(r.stdout).steps[0]!.stdout).toBe("it's $(not) run|/tmp");
  });

  it("a failing cd stops before step 0 and shows up in the preamble", () => {
    const s = script([{ label: "x", argv: ["true"] }], { cwd: "/no/such/dir" });
    const r = spawnSync("bash", ["-c", s.command], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    const p = s.parse(r.stdout, r.stderr);
    expect(p.steps[0]!.status).toBe("not_run");
    expect(p.preamble.stderr).toMatch(/no\/such\/dir/);
  });

  it("parseScriptCommand reads the steps back", () => {
    const steps = [
      { label: "a", argv: ["echo", "x' || __bf_rc=$?\n__bf_mark \"end:0:"] },
      { label: "b", argv: ["apt-get", "install", "-y", "nginx"] },
    ];
    const s = script(steps);
    expect(parseScriptCommand(s.command)).toEqual({ nonce: s.nonce, steps });
    expect(parseScriptCommand("echo hi")).toBeNull();
  });
});

describe("parseScriptOutput", () => {
  const n = "nonce1234";
  const begin = (i: number) => scriptMarker(n, "begin", i);
  const end = (i: number, c: number) => scriptMarker(n, "end", i, c);

  it("ignores markers with another nonce (forgery)", () => {
    const forged = scriptMarker("othernonce", "end", 0, 0);
    const out = `${begin(0)}hello${forged}${end(0, 3)}`;
    const p = parseScriptOutput(out, n, { labels: ["only"] });
    expect(p.failed).toMatchObject({ index: 0, exitCode: 3, stdout: `hello${forged}` });
  });

  it("a step without an end marker is incomplete (killed / dropped)", () => {
    const p = parseScriptOutput(`${begin(0)}a${end(0, 0)}${begin(1)}still going`, n, { labels: ["a", "b", "c"] });
    expect(p.steps.map((s) => s.status)).toEqual(["ok", "incomplete", "not_run"]);
    expect(p.incomplete).toMatchObject({ index: 1, stdout: "still going", exitCode: null });
    expect(p.failed).toBeNull();
  });

  it("works on a tail-truncated output (early markers lost)", () => {
    const out = `[output truncated: first 99 bytes omitted]\n...tail of 0${end(0, 0)}${begin(1)}boom${end(1, 2)}`;
    const p = parseScriptOutput(out, n);
    expect(p.steps.map((s) => s.status)).toEqual(["ok", "failed"]);
    expect(p.failed).toMatchObject({ index: 1, exitCode: 2, stdout: "boom" });
    expect(p.preamble.stdout).toMatch(/^\[output truncated/);
  });

  it("keeps step output byte-exact, with or without trailing newline", () => {
    const p = parseScriptOutput(`${begin(0)}line\n${end(0, 0)}${begin(1)}no newline${end(1, 0)}`, n);
    expect(p.steps.map((s) => s.stdout)).toEqual(["line\n", "no newline"]);
  });
});

describe("lifeline", () => {
  /** Run a wrapped command locally like sshd would: the channel is our stdin pipe. */
  function runWrapped(command: string, control: (stdin: NodeJS.WritableStream) => void) {
    const child = spawn("bash", ["-c", withLifeline(command)], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    control(child.stdin);
    return new Promise<{ code: number | null; stdout: string }>((resolve) => child.on("close", (code) => resolve({ code, stdout })));
  }

  /** Pids of processes whose command line is exactly `command` (pgrep exits 1 when there are none). */
  function pids(command: string): number[] {
    try {
      return execFileSync("pgrep", ["-f", `^${command.replace(/\./g, "\\.")}$`], { encoding: "utf8" })
        .trim()
        .split("\n")
        .map(Number);
    } catch {
      return [];
    }
  }

  it("round-trips and leaves other commands alone", () => {
    const cmd = script([{ label: "x", argv: ["echo", "it's"] }]).command;
    expect(unwrapLifeline(withLifeline(cmd))).toBe(cmd);
    expect(unwrapLifeline(cmd)).toBeNull();
    expect(unwrapLifeline("echo hi")).toBeNull();
  });

  it("passes output and exit code through; the command gets </dev/null", async () => {
    const r = await runWrapped('cat; echo "out $1"; exit 3', () => {}); // stdin left open: cat must not wait for it
    expect(r).toMatchObject({ code: 3, stdout: "out \n" });
  });

  it('"TERM" on stdin stops the whole command group, not just the shell', async () => {
    // A unique duration marks this test's sleep in `pgrep -f` (the shells around it show it
    // too, inside a longer command line: only the sleep's own command line is exactly this).
    const token = `sleep 30.${randomBytes(3).readUIntBE(0, 3)}`;
    const r = await runWrapped(`${token}; echo never`, (stdin) => {
      // TERM once the sleep runs, so it is the sleep (not a shell yet to start it) that is stopped.
      const poll = setInterval(() => {
        if (pids(token).length > 0) {
          clearInterval(poll);
          stdin.write("TERM\n");
        }
      }, 20);
    });
    expect(r.code).toBe(143);
    expect(r.stdout).toBe("");
    // The sleep went with it (no orphan left running its 30 s).
    await expect.poll(() => pids(token), { timeout: 5000, interval: 50 }).toEqual([]);
  });

  it("stdin EOF (channel closed / connection lost) stops it too; KILL beats a TERM trap", async () => {
    expect((await runWrapped("sleep 30", (stdin) => setTimeout(() => stdin.end(), 100))).code).toBe(143);
    const r = await runWrapped('trap "" TERM; sleep 30', (stdin) => {
      setTimeout(() => stdin.write("TERM\n"), 100);
      setTimeout(() => stdin.write("KILL\n"), 300);
    });
    expect(r.code).toBe(137);
  });
});
