// cron: install the scheduler and install/remove/pause/resume scheduled tasks. Pure builders.
//
// Each task is two things on the server:
//  - a script <tasksDir>/<id>.sh holding the user's command verbatim (run by /bin/sh, as
//    cron would). Keeping the command out of the crontab avoids cron's own syntax: `%`
//    means "newline / stdin" there, and an unbalanced quote would swallow our redirect.
//  - one line in the user's crontab (`crontab -u <user>`), entirely built by us:
//      <cron expr> /bin/sh <tasksDir>/<id>.sh >> <logDir>/task-<id>.log 2>&1 # brokeforge:task:<id>
//    The line is found again by its marker SUFFIX, so removal deletes exactly that line and
//    every other line (including ones a human wrote) is kept byte for byte.
// Output of every run is appended to <logDir>/task-<id>.log (owned by the task's user,
// since cron opens it as that user). Removing a task keeps its log.
import { cronExpressionFor, type TaskFrequency } from "../../domain/scheduler";
import { apt, dpkg, files, systemctl, users } from "../commands";
import { definePackage, milestone, step, type Milestone, type Plan, type Step } from "../kit";

export interface ScheduledTask {
  id: string;
  name: string; // display only: never sent to the server
  command: string;
  user: string;
  frequency: TaskFrequency | string;
  cron: string | null;
}

export interface SchedulerPaths {
  tasksDir: string;
  logDir: string;
  /** Debian's per-user crontab spool (one file per user); read by the uninstall only. */
  crontabsDir: string;
}

/** Production locations; tests pass temporary ones. */
export const SCHEDULER_PATHS: SchedulerPaths = {
  tasksDir: "/opt/brokeforge/scheduler/tasks",
  logDir: "/var/log/brokeforge",
  crontabsDir: "/var/spool/cron/crontabs",
};

// Rewrites user $1's crontab without the line(s) ending in " # brokeforge:task:$2", then
// appends $3 (unless empty). Only "no crontab for <user>" counts as an empty crontab: any
// other `crontab -l` failure aborts, so a transient error can never wipe the user's lines
// (the `(crontab -l; echo …) | crontab -` trap). Nothing is written when nothing changes.
export const EDIT_CRONTAB = [
  'u=$1; mark=" # brokeforge:task:$2"; line=$3',
  'if ! id -u -- "$u" >/dev/null 2>&1; then',
  '  if [ -z "$line" ]; then echo "user $u does not exist: no crontab to change"; exit 0; fi',
  '  echo "user $u does not exist on this server" >&2; exit 1',
  "fi",
  'if cur=$(LC_ALL=C crontab -u "$u" -l 2>/dev/null); then :',
  "else",
  '  err=$(LC_ALL=C crontab -u "$u" -l 2>&1 >/dev/null)',
  "  case $err in",
  '    "no crontab for"*) cur= ;;',
  '    *) echo "crontab -l failed for $u: $err" >&2; exit 1 ;;',
  "  esac",
  "fi",
  "new=$(printf '%s\\n' \"$cur\" | while IFS= read -r l; do",
  '  case $l in *"$mark") ;; *) printf \'%s\\n\' "$l" ;; esac',
  "done) || exit 1",
  'if [ -n "$line" ]; then',
  '  if [ -n "$new" ]; then new=$(printf \'%s\\n%s\' "$new" "$line"); else new=$line; fi',
  "fi",
  'if [ "$new" = "$cur" ]; then echo "crontab of $u is already up to date"; exit 0; fi',
  'printf \'%s\\n\' "$new" | crontab -u "$u" - || exit 1',
  'echo "crontab of $u updated"',
].join("\n");

// $1 = crontab spool dir, $2 = tasks dir. Drops every BrokeForge task line from every
// user's crontab (other lines untouched), then the task scripts.
export const REMOVE_ALL_TASKS = [
  'for f in "$1"/*; do',
  '  [ -f "$f" ] || continue',
  "  u=${f##*/}",
  '  id -u -- "$u" >/dev/null 2>&1 || continue # a deleted user: cron ignores that file',
  '  cur=$(crontab -u "$u" -l) || exit 1',
  "  new=$(printf '%s\\n' \"$cur\" | grep -v -E ' # brokeforge:task:[A-Za-z0-9_-]+$'); [ $? -le 1 ] || exit 1",
  '  [ "$new" = "$cur" ] && continue',
  '  printf \'%s\\n\' "$new" | crontab -u "$u" - || exit 1',
  '  echo "removed BrokeForge tasks from the crontab of $u"',
  "done",
  'rm -rf -- "$2"',
].join("\n");

function assertTask(task: ScheduledTask): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(task.id)) throw new Error(`scheduler: bad task id ${JSON.stringify(task.id)}`);
  // Same rule as sshUserSchema; the user is also an argv element, this just keeps `chown user:` meaningful.
  if (!/^[a-z_][a-z0-9_-]*\$?$/.test(task.user) || task.user.length > 32) {
    throw new Error(`scheduler: bad user ${JSON.stringify(task.user)}`);
  }
}

function assertPaths(paths: SchedulerPaths): void {
  // These are spliced into the cron line (shell text for cron's /bin/sh): keep them plain.
  for (const p of [paths.tasksDir, paths.logDir, paths.crontabsDir]) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(p)) throw new Error(`scheduler: unsafe path ${JSON.stringify(p)}`);
  }
}

export const taskMarker = (id: string) => `# brokeforge:task:${id}`;
export const taskScriptPath = (id: string, paths = SCHEDULER_PATHS) => `${paths.tasksDir}/${id}.sh`;
export const taskLogPath = (id: string, paths = SCHEDULER_PATHS) => `${paths.logDir}/task-${id}.log`;

export function taskScript(task: ScheduledTask): string {
  return `#!/bin/sh\n# BrokeForge scheduled task ${task.id}: managed file, rewritten on every install.\n${task.command}\n`;
}

/** The crontab line. The cron expression is re-validated: a newline in it would inject a crontab line. */
export function cronLine(task: ScheduledTask, paths = SCHEDULER_PATHS): string {
  assertTask(task);
  assertPaths(paths);
  const when = cronExpressionFor(task);
  return `${when} /bin/sh ${taskScriptPath(task.id, paths)} >> ${taskLogPath(task.id, paths)} 2>&1 ${taskMarker(task.id)}`;
}

export function schedulerInstallPlan(): Plan {
  return [
    milestone(
      "install_cron",
      "Installing cron",
      [apt.update(), ...apt.install(["cron"]), systemctl.enableNow("cron"), dpkg.version("cron")],
      {
        records: { type: "scheduler", name: "cron", versionFrom: "version", configuration: {} },
      },
    ),
  ];
}

/**
 * Removes every BrokeForge task from the server (crontab lines and scripts; logs stay).
 * The cron package itself stays installed: Debian's own jobs and other software use it.
 */
export function schedulerUninstallPlan(paths: SchedulerPaths = SCHEDULER_PATHS): Plan {
  assertPaths(paths);
  return [
    {
      name: "remove_tasks",
      label: "Removing all scheduled tasks",
      steps: [
        step("Removing BrokeForge crontab entries and scripts", "sh", "-c", REMOVE_ALL_TASKS, "sh", paths.crontabsDir, paths.tasksDir),
      ],
      removes: { type: "scheduler", name: "cron" },
    },
  ];
}

function installMilestone(name: string, label: string, task: ScheduledTask, paths: SchedulerPaths): Milestone {
  const line = cronLine(task, paths);
  const script = taskScriptPath(task.id, paths);
  const log = taskLogPath(task.id, paths);
  return milestone(name, label, [
    users.requireUser(task.user),
    // 0755: the task's user must be able to reach its script and log.
    files.mkdirs([paths.tasksDir, paths.logDir], { mode: "0755", label: "Creating BrokeForge directories" }),
    // cron runs the script and opens the log as the task's user: both are theirs, private.
    files.write(script, taskScript(task), { mode: "0600", owner: `${task.user}:`, label: "Writing the task script" }),
    step("Creating the task log", "touch", "--", log),
    users.chown(`${task.user}:`, [log], "Handing the log to the task's user"),
    step("Making the log private", "chmod", "0600", "--", log),
    step("Adding the crontab entry", "sh", "-c", EDIT_CRONTAB, "sh", task.user, task.id, line),
  ]);
}

function crontabRemoval(task: ScheduledTask): Step {
  assertTask(task);
  return step("Removing the crontab entry", "sh", "-c", EDIT_CRONTAB, "sh", task.user, task.id, "");
}

export function taskInstallPlan(task: ScheduledTask, paths: SchedulerPaths = SCHEDULER_PATHS): Plan {
  return [installMilestone("install_task", "Installing scheduled task", task, paths)];
}

/** Resume = install again (the script is rewritten too, so it always matches the row). */
export function taskResumePlan(task: ScheduledTask, paths: SchedulerPaths = SCHEDULER_PATHS): Plan {
  return [installMilestone("resume_task", "Resuming scheduled task", task, paths)];
}

/** Pause = remove the crontab line only; the script and log stay for the resume. */
export function taskPausePlan(task: ScheduledTask): Plan {
  return [{ name: "pause_task", label: "Pausing scheduled task", steps: [crontabRemoval(task)] }];
}

export function taskRemovePlan(task: ScheduledTask, paths: SchedulerPaths = SCHEDULER_PATHS): Plan {
  assertPaths(paths);
  return [
    {
      name: "remove_task",
      label: "Removing scheduled task",
      steps: [crontabRemoval(task), step("Deleting the task script", "rm", "-f", "--", taskScriptPath(task.id, paths))],
    },
  ];
}

export const scheduler = definePackage({
  type: "scheduler",
  name: "cron",
  label: "Scheduler",
  description: "cron: runs your scheduled tasks as the user you choose.",
  aptPackages: ["cron"],
  requires: [],
  install: () => schedulerInstallPlan(),
  remove: () => schedulerUninstallPlan(),
});
