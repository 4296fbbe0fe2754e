/**
 * Detached milestone runs: a milestone's script runs on the server OUTSIDE the SSH channel
 * that started it, so a worker that dies (kill -9, deploy, OOM) or a dropped connection no
 * longer kills apt/dpkg half-way ("dpkg was interrupted" on every retry).
 *
 * Each run has a name (`runName`: operation id + milestone step + run number) and a state
 * dir `<runs>/<name>/` on the server (default /var/lib/brokeforge/runs, root only):
 *
 *   script   the milestone's script (shell.ts `script()` body); deleted when the run ends
 *   job      the wrapper below (JOB), what actually runs detached
 *   cwd      the starter's working dir, where the script runs (as it would in the channel)
 *   mode     systemd | setsid: how it was started, so `stopRun` knows how to stop it
 *   out err  the script's stdout / stderr, written by the run itself
 *   pid      the wrapper's pid (in setsid mode also the run's session id)
 *   rc       the script's exit code, written (atomically) just before the run ends
 *   run.lock held (flock) by the wrapper for exactly as long as the run is alive
 *   start.lock serialises starting, attaching and stopping one name
 *
 * The ONE command a milestone sends (`startOrAttach`) starts the run unless one of that name
 * exists, then ATTACHES: streams out/err back on the channel's stdout/stderr until the run
 * ends and exits with its exit code. So the channel gives exactly what running the script
 * in-channel gave (`rendered.parse(stdout, stderr)` keeps working), and a retry after a
 * transport fault (same name) picks up the run in progress, or the result of one that ended
 * meanwhile, instead of starting a second apt. The run number comes from the engine (real
 * failures recorded so far + 1), so a retry after a real command failure is a new name and
 * runs afresh.
 *
 * How it starts: with `systemd-run` (its own unit `<name>.service`, collected when it ends)
 * when systemd is PID 1 and we are root; otherwise `setsid` (a new session, no controlling
 * channel). Either way the run survives the SSH session. Stopping (`stopRun`: cancel or
 * operation timeout) is an explicit command: `systemctl stop` (TERM to the unit's cgroup,
 * KILL after TimeoutStopSec), or TERM/KILL to every process of the setsid session; it
 * returns once the run is gone. The client's lifeline (shell.ts) still wraps the attach
 * command, so a dropped channel stops the attach side only, never the run.
 *
 * All shell text is fixed here, values reach it as positional parameters quoted by
 * shell.ts; nothing a user typed is in a name or path (`runName` and the runner check that).
 */
import { toShell } from "./shell";

/** Where runs live when the login user is root (else `$HOME/.brokeforge/runs`). */
export const DEFAULT_RUNS_DIR = "/var/lib/brokeforge/runs";
/** Old state dirs are removed when a new run starts: far beyond any operation's timeout. */
export const KEEP_RUNS_MINUTES = 7 * 24 * 60;
/** `systemctl stop` escalates to SIGKILL after this; the setsid stop does the same. */
export const STOP_GRACE_SECONDS = 10;

/** A run's name: also its systemd unit name and its state dir, so only [A-Za-z0-9-]. */
export function runName(input: { operationId: string; step: number; run: number }): string {
  const { operationId, step, run } = input;
  if (!/^[A-Za-z0-9]{1,64}$/.test(operationId)) throw new Error(`runName: bad operation id ${JSON.stringify(operationId)}`);
  for (const [what, n] of [
    ["step", step],
    ["run", run],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > 9999) throw new Error(`runName: bad ${what} ${n}`);
  }
  return checkName(`brokeforge-op-${operationId}-${step}-${run}`);
}

function checkName(name: string): string {
  // systemd unit names allow more, but this set needs no escaping anywhere (unit, path, ps).
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,199}$/.test(name)) throw new Error(`detached: bad run name ${JSON.stringify(name)}`);
  return name;
}

export type RunMode = "auto" | "setsid";

export interface RunPlace {
  name: string;
  /** State dir root; '' = decided on the server (DEFAULT_RUNS_DIR for root). Tests pass a temp dir. */
  runsDir?: string;
  /** 'auto': systemd-run when systemd is PID 1 and we are root, else setsid. Tests force setsid. */
  mode?: RunMode;
}

function placeArgs(place: RunPlace): string[] {
  const runsDir = place.runsDir ?? "";
  if (runsDir !== "" && !/^\/[A-Za-z0-9/._-]*$/.test(runsDir)) throw new Error(`detached: bad runs dir ${JSON.stringify(runsDir)}`);
  return [runsDir, place.mode ?? "auto", checkName(place.name)];
}

/**
 * systemd-run's fixed options. --collect: the unit disappears when it ends (failed or not);
 * the state dir keeps the result. --uid=0 (User=) sets HOME/USER/LOGNAME as a login would.
 * IgnoreSIGPIPE=no: services ignore SIGPIPE by default, a shell over SSH does not (`yes | head`).
 */
export const SYSTEMD_RUN = [
  "systemd-run",
  "--quiet",
  "--collect",
  "--uid=0",
  "--property=IgnoreSIGPIPE=no",
  `--property=TimeoutStopSec=${STOP_GRACE_SECONDS}`,
] as const;

/** `bash` as BrokeForge runs it everywhere: no rc files (they can print, and cost ~90 ms). */
const BASH = ["bash", "--norc", "--noprofile"] as const;

// Shared preamble: $1 runs dir, $2 mode, $3 name → $d, the run's state dir.
const PLACE = [
  "set -u",
  "name=$3",
  'case $name in ""|*[!A-Za-z0-9-]*) echo "brokeforge: bad run name $name" >&2; exit 2 ;; esac',
  'if [ -n "$1" ]; then runs=$1',
  'elif [ "$EUID" = 0 ]; then runs=' + DEFAULT_RUNS_DIR,
  "else runs=${HOME:-/nonexistent}/.brokeforge/runs; fi",
  "d=$runs/$name",
  // The path goes into systemd-run's argv, where systemd would expand $ and %.
  'case $d in /*) ;; *) echo "brokeforge: run dir $d is not absolute" >&2; exit 2 ;; esac',
  'case $d in *[!A-Za-z0-9/._-]*) echo "brokeforge: unusable run dir $d" >&2; exit 2 ;; esac',
];

/**
 * The detached wrapper ($1 = state dir, $2 = "locked" when it inherits run.lock held on fd
 * 9). Holds run.lock for its whole life (an attach waits on it), records its pid, runs the
 * script with </dev/null and its output into out/err, then records the exit code. The
 * script does not inherit the lock fd, so a daemon it starts cannot keep the run "alive".
 */
export const JOB = [
  "d=$1",
  // "locked": the starter handed us run.lock already held (setsid mode), else take it now.
  'if [ "${2:-}" != locked ]; then',
  '  exec 9>"$d/run.lock" && flock -n 9 || { echo "brokeforge: $d is already running" >>"$d/err"; exit 2; }',
  "fi",
  'echo "$$" >"$d/pid"',
  // In the starter's working dir (a login's: home), as in the channel; a unit would start in /.
  'IFS= read -r cwd <"$d/cwd"; cd -- "$cwd" 2>/dev/null || cd /',
  `${toShell(BASH)} "$d/script" </dev/null >>"$d/out" 2>>"$d/err" 9>&-`,
  "rc=$?",
  'echo "$rc" >"$d/rc.tmp" && mv -f "$d/rc.tmp" "$d/rc"',
  "exec 9>&-", // ended: attached waits return now
  // The script may hold secrets (config files with passwords): not kept once it has run.
  'rm -f "$d/script"',
].join("\n");

/**
 * Start-or-attach ($4 job text, $5 script body). Under start.lock: if nothing of this name
 * is alive and it never started, write the files and launch. An attach must never see a
 * starting run as a dead one, so run.lock is held from before start.lock is released: in
 * setsid mode the starter takes it and the run inherits it (fd 9); a systemd unit cannot
 * inherit it, so there the starter waits (holding start.lock) until the unit's wrapper has
 * taken it and written its pid. Then, start.lock released, attach: `flock -s run.lock`
 * returns when the run ends; the two `tail --pid` on it stream out/err from the first byte
 * and read once more after it ends, so nothing is lost.
 */
export const RUNNER = [
  ...PLACE,
  // Private dirs (scripts may hold secrets); no umask change, the run inherits ours.
  'mkdir -p -m 0700 -- "$runs" "$d" || exit 2',
  'exec 8>"$d/start.lock" && flock 8 || exit 2',
  'if flock -n "$d/run.lock" true && [ ! -e "$d/rc" ] && [ ! -e "$d/pid" ]; then',
  `  find "$runs" -mindepth 1 -maxdepth 1 -type d -name "brokeforge-*" -mmin +${KEEP_RUNS_MINUTES} -exec rm -rf -- {} + </dev/null >/dev/null 2>&1 &`,
  '  printf "%s" "$4" >"$d/job" && printf "%s" "$5" >"$d/script" && printf "%s" "$PWD" >"$d/cwd" || exit 2',
  '  : >"$d/out" && : >"$d/err" || exit 2',
  '  if [ "$2" = auto ] && [ -d /run/systemd/system ] && [ "$EUID" = 0 ] && command -v systemd-run >/dev/null; then',
  '    echo systemd >"$d/mode"',
  `    ${toShell(SYSTEMD_RUN)} --unit="$name" --description="BrokeForge $name" /bin/${toShell(BASH)} "$d/job" "$d" 8>&- </dev/null >/dev/null || exit 2`,
  "    i=0",
  '    until [ -s "$d/pid" ]; do',
  '      i=$((i + 1)); [ "$i" -le 500 ] || { echo "brokeforge: run $name did not start" >&2; exit 2; }',
  "      sleep 0.01",
  "    done",
  "  else",
  '    echo setsid >"$d/mode"',
  '    exec 9>"$d/run.lock" && flock -n 9 || exit 2',
  // The subshell exits at once: the run is nobody's child here, and sshd's pipes are not its.
  // set -m: without job control a background job ignores INT and QUIT, a command over SSH does not.
  `    (set -m; setsid ${toShell(BASH)} "$d/job" "$d" locked 8>&- </dev/null >/dev/null 2>&1 &)`,
  "    exec 9>&-",
  "  fi",
  "fi",
  "exec 8>&-",
  // Ended already (a retry after the worker died): its output as it is, no following.
  'if read -r rc 2>/dev/null <"$d/rc"; then cat "$d/out"; cat "$d/err" >&2; exit "$rc"; fi',
  'flock -s "$d/run.lock" true & w=$!',
  'tail -c +1 -s 0.02 --pid="$w" -f "$d/out" & o=$!',
  'tail -c +1 -s 0.02 --pid="$w" -f "$d/err" >&2 & e=$!',
  'wait "$o" "$e"',
  'if read -r rc 2>/dev/null <"$d/rc"; then exit "$rc"; fi',
  'echo "brokeforge: run $name ended without an exit status (stopped, killed, or the server restarted)" >&2',
  'rm -f "$d/script"',
  "exit 255",
].join("\n");

/**
 * Stop ($1-$3 as above): returns 0 once nothing of the run is alive. systemd: `systemctl stop`
 * (the whole cgroup, KILL after the grace). setsid: TERM every process of the run's session
 * (setsid made the wrapper its leader: session id = pid), KILL what is left after the grace;
 * zombies do not count (they are dead, and some containers' PID 1 never reaps them).
 */
export const STOP = [
  ...PLACE,
  '[ -d "$d" ] || exit 0',
  'exec 8>>"$d/start.lock" && flock 8 || exit 2',
  'flock -n "$d/run.lock" true && exit 0',
  'if [ "$(cat "$d/mode" 2>/dev/null)" = systemd ]; then',
  '  systemctl stop -- "$name.service"',
  "else",
  // The run holds run.lock from its first instant, its pid comes a moment later.
  '  i=0; until [ -s "$d/pid" ] || [ "$i" -ge 500 ]; do sleep 0.01; i=$((i + 1)); done',
  '  sid=$(cat "$d/pid" 2>/dev/null)',
  '  case $sid in ""|*[!0-9]*) echo "brokeforge: run $name has no pid" >&2; exit 2 ;; esac',
  "  signal() {",
  "    alive=0",
  "    for f in /proc/[0-9]*/stat; do",
  '      read -r l 2>/dev/null <"$f" || continue',
  "      set -- ${l##*) }",
  '      [ "${4:-}" = "$sid" ] && [ "$1" != Z ] || continue',
  '      alive=1; p=${f#/proc/}; kill -s "$sig" "${p%/stat}" 2>/dev/null',
  "    done",
  "  }",
  "  sig=TERM; signal; i=0",
  `  while [ "$alive" = 1 ] && [ "$i" -lt ${STOP_GRACE_SECONDS * 10} ]; do sleep 0.1; i=$((i + 1)); sig=0; signal; done`,
  '  if [ "$alive" = 1 ]; then sig=KILL; signal; fi',
  "fi",
  `flock -w ${STOP_GRACE_SECONDS} "$d/run.lock" true || { echo "brokeforge: run $name is still running" >&2; exit 1; }`,
  'rm -f "$d/script"', // it never got to remove its script itself
].join("\n");

/** How every start-or-attach command begins (exact-string tests read commands back after it). */
export const RUN_PREFIX = `exec ${toShell([...BASH, "-c", RUNNER, "brokeforge-run"])} `;

/** The milestone's one command: start the run `place.name` unless it exists, then attach to it. */
export function startOrAttach(place: RunPlace, body: string): string {
  return RUN_PREFIX + toShell([...placeArgs(place), JOB, body]);
}

/** Stops the run (cancel, operation timeout); exits 0 once nothing of it is alive. */
export function stopRun(place: RunPlace): string {
  return `exec ${toShell([...BASH, "-c", STOP, "brokeforge-stop", ...placeArgs(place)])}`;
}
