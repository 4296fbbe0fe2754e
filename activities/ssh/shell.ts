/**
 * The ONE place where argv becomes shell text. Everything sent to a server goes
 * through `quote`/`toShell`/`script`; nothing else in BrokeForge concatenates
 * strings into commands.
 *
 * Quoting rule: an argument made only of `[A-Za-z0-9_./:@+,-]` is left bare
 * (none of those characters means anything to bash/dash/sh), everything else is
 * wrapped in single quotes, where the only character needing care is `'`
 * itself: `'` → `'\''`. Deliberately NOT bare: `=` (first word `A=b` would be an
 * assignment), `~` (tilde expansion), `%` (job specs), `!`, `{`, `[`, `^`, `#`,
 * whitespace and all non-ASCII. Reserved words (`if`, `time`, …) are quoted too
 * so they can never start a compound command.
 *
 * Quoting protects against the SHELL only: a leading `-` still reaches the
 * program as an option. Callers pass `--` where a value may start with `-`.
 *
 * Also here: `script()` (many steps, one channel, per-step markers), `withLifeline()` (how
 * the client stops remote commands) and `wireCommand()` (lifeline and `sudo -n` around a
 * command: what goes over SSH; see below).
 */
import { randomBytes } from "node:crypto";

const SAFE = /^[A-Za-z0-9_./:@+,-]+$/;
const RESERVED = new Set([
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "case",
  "esac",
  "for",
  "select",
  "while",
  "until",
  "do",
  "done",
  "in",
  "function",
  "time",
  "coproc",
]);

export function quote(arg: string): string {
  if (typeof arg !== "string") throw new TypeError(`quote: expected a string, got ${typeof arg}`);
  // argv strings are C strings: a NUL can never reach the program intact.
  if (arg.includes("\0")) throw new Error("quote: argument contains a NUL byte");
  if (SAFE.test(arg) && !RESERVED.has(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function toShell(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error("toShell: empty argv");
  return argv.map(quote).join(" ");
}

// ---------------------------------------------------------------------------
// Scripts: several commands, ONE channel (opening a channel on sshd costs
// ~170 ms). Before and after each step we print a marker carrying a random
// per-script nonce, to stdout AND stderr, so output can be split per step and a
// failing step identified with its exit code. Commands cannot forge markers
// without knowing the nonce.

export interface ScriptStep {
  label: string;
  argv: readonly string[];
}

export interface ScriptOptions {
  /** Working directory for all steps (`cd --` before the first step). */
  cwd?: string;
  /** Environment exported for all steps. Names must be valid shell identifiers. */
  env?: Record<string, string>;
  /** Fixed nonce, for exact-output tests only. */
  nonce?: string;
}

export interface RenderedScript {
  /** Shell text to pass to `SshConnection.exec`. */
  command: string;
  /** The script itself (`command` runs it with `bash -c`); detached.ts stores it in a file. */
  body: string;
  nonce: string;
  labels: string[];
  parse(stdout: string, stderr?: string): ParsedScriptOutput;
}

export type StepStatus = "ok" | "failed" | "incomplete" | "not_run";

export interface ScriptStepOutcome {
  index: number;
  label?: string;
  status: StepStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

export interface ParsedScriptOutput {
  steps: ScriptStepOutcome[];
  /** The step that exited non-zero (the script stops there). */
  failed: ScriptStepOutcome | null;
  /** A step that started but never finished (killed, timed out, connection dropped). */
  incomplete: ScriptStepOutcome | null;
  /** Output before the first marker (e.g. a failing `cd`, or a truncation note). */
  preamble: { stdout: string; stderr: string };
}

// A command line is an argument to `bash -c` on the server: Linux caps a
// single argument at 128 KiB (MAX_ARG_STRLEN). Upload big payloads instead.
const MAX_SCRIPT_BYTES = 120 * 1024;
// Under sshd, bash reads ~/.bashrc even for `-c` (SSH_CLIENT set, SHLVL < 2,
// and SHLVL stays 1 through exec): the login shell already did, so our bashes
// skip it. Measured ~90 ms per bash with a heavy rc; rc files that print would
// also corrupt our output.
const BASH = "exec bash --norc --noprofile -c";
const MARK = "::bf-step";

export function script(steps: readonly ScriptStep[], opts: ScriptOptions = {}): RenderedScript {
  if (steps.length === 0) throw new Error("script: no steps");
  const nonce = opts.nonce ?? randomBytes(12).toString("hex");
  if (!/^[A-Za-z0-9]{8,64}$/.test(nonce)) throw new Error("script: nonce must be 8-64 alphanumerics");
  const lines = [
    "set -euo pipefail",
    // Marker on its own line on both streams; the leading \n is stripped again by the parser.
    `__bf_mark() { printf '\\n%s\\n' "${MARK}:${nonce}:$1"; printf '\\n%s\\n' "${MARK}:${nonce}:$1" >&2; }`,
  ];
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`script: bad env name ${JSON.stringify(name)}`);
    lines.push(`export ${name}=${quote(value)}`);
  }
  if (opts.cwd !== undefined) lines.push(`cd -- ${quote(opts.cwd)}`);
  steps.forEach((step, i) => {
    // Label as a comment (newlines squashed) so the script reads well in `ps`/logs and the peer can show it.
    lines.push(`# step ${i}: ${step.label.replace(/[\r\n]+/g, " ")}`);
    lines.push(`__bf_mark begin:${i}`);
    // `cmd || rc=$?` keeps `set -e` from exiting before we print the end marker.
    lines.push(`__bf_rc=0; ${toShell(step.argv)} || __bf_rc=$?`);
    lines.push(`__bf_mark "end:${i}:$__bf_rc"`);
    lines.push(`if [ "$__bf_rc" -ne 0 ]; then exit "$__bf_rc"; fi`);
  });
  const body = lines.join("\n") + "\n";
  const command = bashCommand(body);
  if (Buffer.byteLength(command) > MAX_SCRIPT_BYTES) {
    throw new Error(`script: ${Buffer.byteLength(command)} bytes is too long for one command line; upload large content as a file`);
  }
  const labels = steps.map((s) => s.label);
  return {
    command,
    body,
    nonce,
    labels,
    parse: (stdout, stderr = "") => parseScriptOutput(stdout, nonce, { stderr, labels }),
  };
}

/** How BrokeForge runs a script body: `exec bash --norc --noprofile -c <body>` (see BASH). */
export function bashCommand(body: string): string {
  return `${BASH} ${quote(body)}`;
}

interface Marker {
  kind: "begin" | "end";
  index: number;
  code: number | null;
  start: number;
  end: number;
}

function findMarkers(text: string, nonce: string): Marker[] {
  const re = new RegExp(`\\n${MARK}:${nonce}:(begin|end):(\\d+)(?::(\\d+))?\\n`, "g");
  const out: Marker[] = [];
  for (const m of text.matchAll(re)) {
    out.push({
      kind: m[1] as "begin" | "end",
      index: Number(m[2]),
      code: m[3] === undefined ? null : Number(m[3]),
      start: m.index!,
      end: m.index! + m[0].length,
    });
  }
  return out;
}

/** Output of each step on one stream: text between its begin marker and the next marker. */
function splitByStep(text: string, markers: Marker[]): { preamble: string; perStep: Map<number, string> } {
  const perStep = new Map<number, string>();
  markers.forEach((m, k) => {
    if (m.kind !== "begin") return;
    const next = markers[k + 1];
    perStep.set(m.index, text.slice(m.end, next ? next.start : text.length));
  });
  return { preamble: text.slice(0, markers[0]?.start ?? text.length), perStep };
}

export function parseScriptOutput(
  stdout: string,
  nonce: string,
  opts: { stderr?: string; labels?: readonly string[] } = {},
): ParsedScriptOutput {
  const outMarkers = findMarkers(stdout, nonce);
  const errMarkers = findMarkers(opts.stderr ?? "", nonce);
  const out = splitByStep(stdout, outMarkers);
  const err = splitByStep(opts.stderr ?? "", errMarkers);
  const begun = new Set(outMarkers.filter((m) => m.kind === "begin").map((m) => m.index));
  const ended = new Map(outMarkers.filter((m) => m.kind === "end").map((m) => [m.index, m.code]));
  // Truncation keeps the tail, so early begin markers may be gone; an end marker alone still counts.
  const seen = [...begun, ...ended.keys()];
  const count = Math.max(opts.labels?.length ?? 0, seen.length ? Math.max(...seen) + 1 : 0);

  const steps: ScriptStepOutcome[] = [];
  for (let index = 0; index < count; index++) {
    const exitCode = ended.has(index) ? ended.get(index)! : null;
    const status: StepStatus = ended.has(index) ? (exitCode === 0 ? "ok" : "failed") : begun.has(index) ? "incomplete" : "not_run";
    steps.push({
      index,
      ...(opts.labels?.[index] !== undefined ? { label: opts.labels[index] } : {}),
      status,
      exitCode,
      stdout: out.perStep.get(index) ?? "",
      stderr: err.perStep.get(index) ?? "",
    });
  }
  return {
    steps,
    failed: steps.find((s) => s.status === "failed") ?? null,
    incomplete: steps.find((s) => s.status === "incomplete") ?? null,
    preamble: { stdout: out.preamble, stderr: err.preamble },
  };
}

// ---------------------------------------------------------------------------
// Lifeline: how we stop a remote command. OpenSSH refuses SSH "signal" requests
// for root sessions ("session signalling requires privilege separation": root
// logins have no privsep child), and closing a channel does NOT kill its
// process. So every command runs under this wrapper: the command gets its own
// process group and stdin </dev/null, while a watcher reads OUR channel's stdin:
// a line "TERM"/"KILL"/"INT"/"HUP" signals the group; EOF (channel closed,
// connection dropped) means TERM, then KILL 2 s later. No orphans survive a
// timeout, an abort or a dropped connection.
// Pitfall handled: without job control bash gives `&` jobs stdin=/dev/null, so
// the channel's stdin is passed to the watcher explicitly via fd 3.
const LIFELINE = [
  "exec 3<&0",
  "set -m",
  'bash --norc --noprofile -c "$1" </dev/null 3<&- &',
  "pid=$!",
  "set +m",
  "{",
  "  while IFS= read -r sig; do",
  '    case "$sig" in TERM|KILL|INT|HUP) kill -s "$sig" -- "-$pid" ;; esac',
  "  done",
  '  kill -s TERM -- "-$pid"; sleep 2; kill -s KILL -- "-$pid"',
  "} <&3 >/dev/null 2>&1 &",
  "exec 3<&-",
  "watch=$!",
  'wait "$pid" 2>/dev/null; rc=$?',
  'kill "$watch" 2>/dev/null',
  'exit "$rc"',
].join("\n");

/** Wrap shell text so it can be stopped by writing "TERM\n"/"KILL\n" to stdin or closing the channel. */
export function withLifeline(command: string): string {
  return wireCommand(command, { lifeline: true, sudo: false }).command;
}

// ---------------------------------------------------------------------------
// Root through sudo. Every plan assumes root (apt-get, files in /etc, systemd-run). A login
// user other than root gets there with `sudo -n`: -n because there is no terminal to type a
// password on (a prompt would hang until the timeout), so sudo must allow the user without one
// (NOPASSWD) or fail at once with "sudo: a password is required" (client.ts turns that into an
// error saying how to fix it). sudo goes around the WHOLE command, lifeline included: the
// watcher then runs as root and can signal the root processes it started, and the channel's
// stdin still reaches it (sudo only adds a terminal when it runs in one; an SSH exec has none).
//
// The command itself is NOT in sudo's arguments: sudo logs every command line it runs (syslog:
// auth.log, the journal), and scripts can hold secrets (a config file's password) that a root
// login never wrote anywhere. So sudo runs fixed text that reads the command from the channel's
// stdin up to a NUL byte (commands cannot contain one: see `quote`; bash's `read` takes pipes
// byte by byte, so not one byte of what follows is consumed), and then carries on exactly as
// the root form does with that command as $1; the lifeline's control lines follow the NUL.
const SUDO_BASH = "exec sudo -n -- bash --norc --noprofile -c";
const READ_COMMAND = `IFS= read -r -d "" c || { echo "brokeforge: no command on stdin" >&2; exit 2; }; set -- "$c"; unset c`;

export interface WireOptions {
  /** Under the lifeline (see above), so the command can be stopped. */
  lifeline: boolean;
  /** As root through `sudo -n`: the login user is not root. */
  sudo: boolean;
}

export interface Wire {
  /** The SSH exec request's command line. */
  command: string;
  /** Written to the channel's stdin first, before any lifeline control line. */
  stdin?: string;
}

/** What is sent over SSH for shell text `command`: the ONE place the lifeline and sudo go around it. */
export function wireCommand(command: string, opts: WireOptions): Wire {
  if (!opts.sudo) {
    // Root without the lifeline: the login shell runs it as it is.
    return { command: opts.lifeline ? `${BASH} ${quote(LIFELINE)} brokeforge ${quote(command)}` : command };
  }
  if (command.includes("\0")) throw new Error("wireCommand: command contains a NUL byte");
  const then = opts.lifeline ? LIFELINE : `exec bash --norc --noprofile -c "$1"`;
  return { command: `${SUDO_BASH} ${quote(`${READ_COMMAND}\n${then}`)} brokeforge`, stdin: `${command}\0` };
}
