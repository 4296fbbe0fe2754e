// supervisor: install supervisord and install/remove/restart programs (daemons). Pure builders.
//
// A program is one file <confDir>/brokeforge-<id>.conf with one [program:brokeforge-<id>]
// section. The user's command and directory are VALUES in that INI file, read by supervisor:
//  - supervisor splits `command=` into words itself (shell-like quoting, no shell);
//  - configparser would start a new key at a line break and a comment at " ;" / " #": the
//    schema refuses those (supervisorValueProblem), and the builder checks again;
//  - supervisor expands `%(name)s` in values with Python %-formatting, so `%` is written `%%`.
// Logs: <logDir>/brokeforge-<id>_NN.log, one per process (stderr merged), rotated by supervisor.
// Removing a program keeps its logs.
import { supervisorValueProblem } from "../../domain/supervisor";
import { apt, dpkg, files, systemctl, users } from "../commands";
import { definePackage, milestone, step, type Milestone, type Plan, type Step } from "../kit";

export interface SupervisorProgram {
  id: string;
  name: string; // display only: never sent to the server
  command: string;
  directory: string;
  user: string;
  numprocs: number;
  autostart: boolean;
  autorestart: boolean;
}

export interface SupervisorOptions {
  confDir?: string;
  logDir?: string;
  /** How long to wait for RUNNING before failing. */
  verifySeconds?: number;
}

/** Production locations; tests pass temporary ones. */
export const SUPERVISOR_DEFAULTS: Required<SupervisorOptions> = {
  confDir: "/etc/supervisor/conf.d",
  logDir: "/var/log/brokeforge",
  verifySeconds: 20,
};

// `update <group>` for a group that is neither configured nor running says "no such group":
// the removal already happened, which must not fail a retry.
export const UPDATE_GONE = [
  'out=$(supervisorctl update "$1" 2>&1); rc=$?',
  "printf '%s\\n' \"$out\"",
  'case $out in *"no such group"*) exit 0 ;; esac',
  'exit "$rc"',
].join("\n");

// $1 program, $2 log dir, $3 seconds, $4 start|restart. Starts (or restarts) the program's
// processes, then polls until all are RUNNING. FATAL/BACKOFF (or no processes at all) fail at
// once, with the status text and the tail of the logs so the user sees the real error.
export const START_AND_VERIFY = [
  "p=$1; i=0",
  'supervisorctl "$4" "$p:*" || true', // its result is judged by the status below
  "while :; do",
  '  out=$(supervisorctl status "$p:*" 2>&1)',
  '  total=$(printf \'%s\\n\' "$out" | grep -c "^$p:")',
  '  up=$(printf \'%s\\n\' "$out" | grep -Ec "^$p:[^ ]+ +RUNNING ")',
  '  if [ "$total" -gt 0 ] && [ "$up" -eq "$total" ]; then printf \'%s\\n\' "$out"; exit 0; fi',
  '  printf \'%s\\n\' "$out" | grep -Eq "^$p:[^ ]+ +(FATAL|BACKOFF) " && break',
  '  [ "$total" -gt 0 ] || break',
  '  i=$((i + 1)); [ "$i" -lt "$3" ] || break',
  "  sleep 1",
  "done",
  'echo "$p did not reach RUNNING:" >&2',
  "printf '%s\\n' \"$out\" >&2",
  'for f in "$2/$p"_*.log; do',
  '  if [ -f "$f" ]; then echo "--- last lines of $f:" >&2; tail -n 20 -- "$f" >&2; fi',
  "done",
  "exit 1",
].join("\n");

export const REMOVE_OUR_CONFS = 'rm -f -- "$1"/brokeforge-*.conf';

function options(opts: SupervisorOptions): Required<SupervisorOptions> {
  const o = { ...SUPERVISOR_DEFAULTS, ...opts };
  for (const p of [o.confDir, o.logDir]) {
    // The log dir goes into the config file: no `%`, no spaces.
    if (!/^\/[A-Za-z0-9_./-]+$/.test(p)) throw new Error(`supervisor: unsafe path ${JSON.stringify(p)}`);
  }
  if (!Number.isInteger(o.verifySeconds) || o.verifySeconds < 1) throw new Error("supervisor: bad verifySeconds");
  return o;
}

function assertId(id: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`supervisor: bad program id ${JSON.stringify(id)}`);
}

/** Everything that goes into the config file, checked again (the row may predate the schema). */
function assertProgram(program: SupervisorProgram): void {
  const bad = (what: string, detail = "") => new Error(`supervisor: bad ${what}${detail}`);
  assertId(program.id);
  if (!/^[a-z_][a-z0-9_-]*\$?$/.test(program.user) || program.user.length > 32) throw bad("user", ` ${JSON.stringify(program.user)}`);
  if (!Number.isInteger(program.numprocs) || program.numprocs < 1 || program.numprocs > 20) throw bad("numprocs");
  if (!program.directory.startsWith("/")) throw bad("directory", ": not absolute");
  for (const [field, value] of [
    ["command", program.command],
    ["directory", program.directory],
  ] as const) {
    if (value.trim() === "") throw bad(field, ": empty");
    const problem = supervisorValueProblem(value);
    if (problem) throw bad(field, `: ${problem}`);
  }
}

export function programName(id: string): string {
  assertId(id);
  return `brokeforge-${id}`;
}
export const programConfPath = (id: string, opts: SupervisorOptions = {}) => `${options(opts).confDir}/${programName(id)}.conf`;

/** `%` → `%%` (supervisor's %-expansion); configparser strips surrounding whitespace anyway. */
const ini = (v: string) => v.trim().replaceAll("%", "%%");

export function programConfig(program: SupervisorProgram, opts: SupervisorOptions = {}): string {
  assertProgram(program);
  const { logDir } = options(opts);
  return [
    `; Managed by BrokeForge (program ${program.id}): changes here are overwritten.`,
    `[program:${programName(program.id)}]`,
    `command=${ini(program.command)}`,
    `directory=${ini(program.directory)}`,
    `user=${program.user}`,
    `numprocs=${program.numprocs}`,
    "process_name=%(program_name)s_%(process_num)02d",
    `autostart=${program.autostart}`,
    `autorestart=${program.autorestart}`,
    "startsecs=1",
    "stopasgroup=true",
    "killasgroup=true",
    "redirect_stderr=true",
    `stdout_logfile=${logDir}/%(program_name)s_%(process_num)02d.log`,
    "stdout_logfile_maxbytes=10MB",
    "stdout_logfile_backups=5",
    "",
  ].join("\n");
}

function startAndVerify(program: SupervisorProgram, o: Required<SupervisorOptions>, action: "start" | "restart"): Step {
  const label = action === "start" ? "Waiting for the program to run" : "Restarting the program";
  return step(label, "sh", "-c", START_AND_VERIFY, "sh", programName(program.id), o.logDir, String(o.verifySeconds), action);
}

export function supervisorInstallPlan(): Plan {
  return [
    milestone(
      "install_supervisor",
      "Installing supervisor",
      [apt.update(), ...apt.install(["supervisor"]), systemctl.enableNow("supervisor"), dpkg.version("supervisor")],
      { records: { type: "supervisor", name: "supervisor", versionFrom: "version", configuration: {} } },
    ),
  ];
}

/**
 * Deletes BrokeForge's program configs first (the package does not own them: left behind,
 * they would start again on a later reinstall), then purges supervisor, which stops it.
 */
export function supervisorUninstallPlan(opts: SupervisorOptions = {}): Plan {
  const o = options(opts);
  return [
    {
      name: "remove_supervisor",
      label: "Removing supervisor",
      steps: [
        step("Deleting BrokeForge program configurations", "sh", "-c", REMOVE_OUR_CONFS, "sh", o.confDir),
        ...apt.purge(["supervisor"]),
      ],
      removes: { type: "supervisor", name: "supervisor" },
    },
  ];
}

export function programInstallPlan(program: SupervisorProgram, opts: SupervisorOptions = {}): Plan {
  const o = options(opts);
  const config = programConfig(program, o); // validates the program before any step is built
  const conf = programConfPath(program.id, o);
  const name = programName(program.id);
  const configure: Milestone = {
    name: "configure_program",
    label: "Writing the supervisor configuration",
    steps: [
      users.requireUser(program.user),
      step("Checking the working directory", ...files.requireDir(program.directory)),
      files.mkdirs([o.confDir, o.logDir], { label: "Creating BrokeForge directories" }),
      // The temp file's name does not match supervisor's `conf.d/*.conf` include: a half-written
      // file is never read.
      files.write(conf, config, { label: "Writing the program configuration" }),
    ],
  };
  const start: Milestone = {
    name: "start_program",
    label: "Starting the program",
    steps: [
      step("Reloading supervisor configuration", "supervisorctl", "reread"),
      step("Applying the program configuration", "supervisorctl", "update", name),
      // autostart=false: installed and left stopped, as asked.
      ...(program.autostart ? [startAndVerify(program, o, "start")] : []),
    ],
  };
  return [configure, start];
}

// Restart and removal only need the id: an old row with a now-invalid command can still be removed.
export function programRestartPlan(program: SupervisorProgram, opts: SupervisorOptions = {}): Plan {
  assertId(program.id);
  return [{ name: "restart_program", label: "Restarting the program", steps: [startAndVerify(program, options(opts), "restart")] }];
}

export function programRemovePlan(program: SupervisorProgram, opts: SupervisorOptions = {}): Plan {
  assertId(program.id);
  const o = options(opts);
  return [
    {
      name: "remove_program",
      label: "Removing the program",
      steps: [
        step("Deleting the program configuration", "rm", "-f", "--", programConfPath(program.id, o)),
        step("Reloading supervisor configuration", "supervisorctl", "reread"),
        // Stops the processes and drops the group, since its config is gone.
        step("Stopping and removing the program", "sh", "-c", UPDATE_GONE, "sh", programName(program.id)),
      ],
    },
  ];
}

export const supervisor = definePackage({
  type: "supervisor",
  name: "supervisor",
  label: "Supervisor",
  description: "supervisord: keeps your daemons and queue workers running.",
  aptPackages: ["supervisor"],
  requires: [],
  install: () => supervisorInstallPlan(),
  remove: () => supervisorUninstallPlan(),
});
