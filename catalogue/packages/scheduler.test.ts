import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import {
  cronLine,
  EDIT_CRONTAB,
  REMOVE_ALL_TASKS,
  SCHEDULER_PATHS,
  schedulerInstallPlan,
  schedulerUninstallPlan,
  taskInstallPlan,
  taskPausePlan,
  taskRemovePlan,
  taskResumePlan,
  taskScript,
  type ScheduledTask,
} from "./scheduler";
import type { Plan } from "../kit";
import { SH_APT_UPDATE, shAptInstall } from "../commands/expected.test-helper";
import { WRITE_FILE } from "../commands/files";

function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}

const EDIT = `sh -c ${quote(EDIT_CRONTAB)} sh`;
const task = (over: Partial<ScheduledTask> = {}): ScheduledTask => ({
  id: "clxtask1",
  name: "Backups",
  command: "php /home/brokeforge/app/artisan schedule:run",
  user: "deploy",
  frequency: "every_minute",
  cron: null,
  ...over,
});
const LINE =
  "* * * * * /bin/sh /opt/brokeforge/scheduler/tasks/clxtask1.sh >> /var/log/brokeforge/task-clxtask1.log 2>&1 # brokeforge:task:clxtask1";

describe("schedulerInstallPlan", () => {
  it("installs cron, enables it and records the inventory", () => {
    const plan = schedulerInstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "install_cron",
        label: "Installing cron",
        steps: [SH_APT_UPDATE, ...shAptInstall("cron"), "systemctl enable --now cron", "dpkg-query -W '-f=${Version}' cron"],
      },
    ]);
    expect(plan[0]!.records).toEqual({ type: "scheduler", name: "cron", versionFrom: "version", configuration: {} });
    expect(plan[0]!.steps.at(-1)!.argv[0]).toBe("dpkg-query");
  });

  it("uninstall removes every BrokeForge line and script but keeps the cron package", () => {
    const plan = schedulerUninstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "remove_tasks",
        label: "Removing all scheduled tasks",
        steps: [`sh -c ${quote(REMOVE_ALL_TASKS)} sh /var/spool/cron/crontabs /opt/brokeforge/scheduler/tasks`],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "scheduler", name: "cron" });
  });
});

describe("cronLine", () => {
  it.each([
    ["every_minute", null, "* * * * *"],
    ["hourly", null, "0 * * * *"],
    ["daily", null, "0 0 * * *"],
    ["weekly", null, "0 0 * * 0"],
    ["monthly", null, "0 0 1 * *"],
    ["reboot", null, "@reboot"],
    ["custom", " */15  9-17 * JAN-jun mon-FRI ", "*/15 9-17 * jan-jun mon-fri"],
  ])("%s (%s) runs at %s", (frequency, cron, expr) => {
    expect(cronLine(task({ frequency, cron }))).toBe(
      `${expr} /bin/sh /opt/brokeforge/scheduler/tasks/clxtask1.sh >> /var/log/brokeforge/task-clxtask1.log 2>&1 # brokeforge:task:clxtask1`,
    );
  });

  it("re-validates the cron expression: a newline would inject a second crontab line", () => {
    expect(() => cronLine(task({ frequency: "custom", cron: "* * * * *\n* * * * * rm -rf /" }))).toThrow(/Invalid cron/);
    expect(() => cronLine(task({ frequency: "custom", cron: "61 * * * *" }))).toThrow(/Minute: 61 is out of range/);
    expect(() => cronLine(task({ frequency: "yearly" }))).toThrow(/Unknown task frequency/);
  });

  it.each([
    ["id", { id: "a b" }],
    ["id", { id: "../x" }],
    ["user", { user: "Root" }],
    ["user", { user: "-rf" }],
    ["user", { user: "a b" }],
  ])("rejects a bad %s", (_f, over) => {
    expect(() => cronLine(task(over as Partial<ScheduledTask>))).toThrow(/scheduler: bad/);
    expect(() => taskRemovePlan(task(over as Partial<ScheduledTask>))).toThrow(/scheduler: bad/);
  });

  it("refuses paths that would need quoting inside the cron line", () => {
    expect(() => cronLine(task(), { ...SCHEDULER_PATHS, logDir: "/var/log/a b" })).toThrow(/unsafe path/);
    expect(() => cronLine(task(), { ...SCHEDULER_PATHS, tasksDir: "relative" })).toThrow(/unsafe path/);
  });
});

describe("task plans", () => {
  const installSteps = (line: string, scriptText: string) => [
    "id -u -- deploy",
    "mkdir -p -m 0755 -- /opt/brokeforge/scheduler/tasks /var/log/brokeforge",
    `sh -c ${quote(WRITE_FILE)} sh /opt/brokeforge/scheduler/tasks/clxtask1.sh ${quote(scriptText)} 0600 deploy:`,
    "touch -- /var/log/brokeforge/task-clxtask1.log",
    "chown -- deploy: /var/log/brokeforge/task-clxtask1.log",
    "chmod 0600 -- /var/log/brokeforge/task-clxtask1.log",
    `${EDIT} deploy clxtask1 ${quote(line)}`,
  ];
  const SCRIPT =
    "#!/bin/sh\n# BrokeForge scheduled task clxtask1: managed file, rewritten on every install.\nphp /home/brokeforge/app/artisan schedule:run\n";

  it("install writes the script, prepares the log and adds the owned crontab line", () => {
    expect(taskScript(task())).toBe(SCRIPT);
    expect(rendered(taskInstallPlan(task()))).toEqual([
      { name: "install_task", label: "Installing scheduled task", steps: installSteps(LINE, SCRIPT) },
    ]);
  });

  it("resume is an install under its own milestone name", () => {
    expect(rendered(taskResumePlan(task()))).toEqual([
      { name: "resume_task", label: "Resuming scheduled task", steps: installSteps(LINE, SCRIPT) },
    ]);
  });

  it("pause removes the crontab line only", () => {
    expect(rendered(taskPausePlan(task()))).toEqual([
      { name: "pause_task", label: "Pausing scheduled task", steps: [`${EDIT} deploy clxtask1 ''`] },
    ]);
  });

  it("remove drops the line and the script", () => {
    expect(rendered(taskRemovePlan(task()))).toEqual([
      {
        name: "remove_task",
        label: "Removing scheduled task",
        steps: [`${EDIT} deploy clxtask1 ''`, "rm -f -- /opt/brokeforge/scheduler/tasks/clxtask1.sh"],
      },
    ]);
  });

  it("puts a hostile command only inside the quoted script content", () => {
    const command = `echo "it's" $(id) \`id\` ; rm -rf * -- -x %s %% ünï 😀 'x'"y"\\`;
    const steps = rendered(taskInstallPlan(task({ command })))[0]!.steps;
    expect(steps[2]).toBe(
      `sh -c ${quote(WRITE_FILE)} sh /opt/brokeforge/scheduler/tasks/clxtask1.sh ${quote(taskScript(task({ command })))} 0600 deploy:`,
    );
    // the crontab line does not contain the command at all (no cron `%` semantics to worry about)
    expect(steps[6]).toBe(`${EDIT} deploy clxtask1 ${quote(LINE)}`);
    expect(steps.filter((s) => s.includes("rm -rf"))).toHaveLength(1);
  });

  it("never sends the task's display name to the server", () => {
    const plan = taskInstallPlan(task({ name: "NAMEXYZ'$(reboot)" }));
    expect(script(plan[0]!.steps).command).not.toContain("NAMEXYZ");
  });

  it("renders as a script whose steps read back to the same argv", () => {
    const long = "x".repeat(1000);
    for (const plan of [
      taskInstallPlan(task({ command: long })),
      taskRemovePlan(task()),
      schedulerInstallPlan(),
      schedulerUninstallPlan(),
    ]) {
      for (const m of plan) {
        const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
        expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
      }
    }
  });
});
