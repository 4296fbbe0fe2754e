import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import {
  programConfig,
  programInstallPlan,
  programRemovePlan,
  programRestartPlan,
  REMOVE_OUR_CONFS,
  START_AND_VERIFY,
  supervisorInstallPlan,
  supervisorUninstallPlan,
  UPDATE_GONE,
  type SupervisorProgram,
} from "./supervisor";
import type { Plan } from "../kit";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { REQUIRE_DIR, WRITE_FILE } from "../commands/files";

function rendered(plan: Plan) {
  return plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
}

const program = (over: Partial<SupervisorProgram> = {}): SupervisorProgram => ({
  id: "clxprog1",
  name: "Queue worker",
  command: "php artisan queue:work --tries=3",
  directory: "/home/brokeforge/app",
  user: "brokeforge",
  numprocs: 2,
  autostart: true,
  autorestart: true,
  ...over,
});

const CONFIG = `; Managed by BrokeForge (program clxprog1): changes here are overwritten.
[program:brokeforge-clxprog1]
command=php artisan queue:work --tries=3
directory=/home/brokeforge/app
user=brokeforge
numprocs=2
process_name=%(program_name)s_%(process_num)02d
autostart=true
autorestart=true
startsecs=1
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/var/log/brokeforge/%(program_name)s_%(process_num)02d.log
stdout_logfile_maxbytes=10MB
stdout_logfile_backups=5
`;

describe("supervisorInstallPlan / supervisorUninstallPlan", () => {
  it("installs and enables supervisor", () => {
    const plan = supervisorInstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "install_supervisor",
        label: "Installing supervisor",
        steps: [
          SH_APT_UPDATE,
          ...shAptInstall("supervisor"),
          "systemctl enable --now supervisor",
          "dpkg-query -W '-f=${Version}' supervisor",
        ],
      },
    ]);
    expect(plan[0]!.records).toEqual({ type: "supervisor", name: "supervisor", versionFrom: "version", configuration: {} });
    expect(plan[0]!.steps.at(-1)!.argv[0]).toBe("dpkg-query");
  });

  it("uninstall deletes BrokeForge configs, then purges", () => {
    const plan = supervisorUninstallPlan();
    expect(rendered(plan)).toEqual([
      {
        name: "remove_supervisor",
        label: "Removing supervisor",
        steps: [`sh -c ${quote(REMOVE_OUR_CONFS)} sh /etc/supervisor/conf.d`, ...shAptPurge("supervisor")],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "supervisor", name: "supervisor" });
  });
});

describe("programConfig", () => {
  it("renders the program section", () => {
    expect(programConfig(program())).toBe(CONFIG);
  });

  it("escapes % (supervisor expands %(name)s) and keeps quotes for supervisor's own word splitting", () => {
    const conf = programConfig(
      program({ command: `bash -c 'date +%Y-%m-%d; echo "$HOME"'`, directory: "/srv/100%/x", autorestart: false, numprocs: 1 }),
    );
    expect(conf).toContain(`\ncommand=bash -c 'date +%%Y-%%m-%%d; echo "$HOME"'\n`);
    expect(conf).toContain("\ndirectory=/srv/100%%/x\n");
    expect(conf).toContain("\nnumprocs=1\n");
    expect(conf).toContain("\nautorestart=false\n");
  });

  it.each<[string, Partial<SupervisorProgram>, RegExp]>([
    ["a newline in the command (would add config keys)", { command: "sleep 1\nuser=root" }, /bad command/],
    ["a CR in the command", { command: "sleep 1\rx" }, /bad command/],
    ["an inline comment in the command", { command: "sleep 1 ; echo" }, /bad command/],
    ["a # comment in the command", { command: "sleep 1\t#x" }, /bad command/],
    ["an empty command", { command: "   " }, /bad command/],
    ["a newline in the directory", { directory: "/srv\n[program:x]" }, /bad directory/],
    ["a relative directory", { directory: "srv" }, /bad directory/],
    ["a bad user", { user: "root\nx" }, /bad user/],
    ["a bad id", { id: "x]\n[program:y" }, /bad program id/],
    ["too many processes", { numprocs: 21 }, /bad numprocs/],
    ["zero processes", { numprocs: 0 }, /bad numprocs/],
  ])("refuses %s", (_what, over, message) => {
    expect(() => programConfig(program(over))).toThrow(message);
    expect(() => programInstallPlan(program(over))).toThrow(message);
  });

  it("allows ; and # that are not comments for configparser", () => {
    expect(programConfig(program({ command: "bash -c 'a;b'#x" }))).toContain("command=bash -c 'a;b'#x\n");
  });
});

describe("program plans", () => {
  const VERIFY = `sh -c ${quote(START_AND_VERIFY)} sh brokeforge-clxprog1 /var/log/brokeforge 20`;

  it("install writes the config atomically, applies it and waits for RUNNING", () => {
    expect(rendered(programInstallPlan(program()))).toEqual([
      {
        name: "configure_program",
        label: "Writing the supervisor configuration",
        steps: [
          "id -u -- brokeforge",
          `sh -c ${quote(REQUIRE_DIR)} sh /home/brokeforge/app`,
          "mkdir -p -- /etc/supervisor/conf.d /var/log/brokeforge",
          `sh -c ${quote(WRITE_FILE)} sh /etc/supervisor/conf.d/brokeforge-clxprog1.conf ${quote(CONFIG)} 0600 ''`,
        ],
      },
      {
        name: "start_program",
        label: "Starting the program",
        steps: ["supervisorctl reread", "supervisorctl update brokeforge-clxprog1", `${VERIFY} start`],
      },
    ]);
  });

  it("install with autostart off does not start it", () => {
    expect(rendered(programInstallPlan(program({ autostart: false })))[1]!.steps).toEqual([
      "supervisorctl reread",
      "supervisorctl update brokeforge-clxprog1",
    ]);
  });

  it("restart restarts and verifies", () => {
    expect(rendered(programRestartPlan(program()))).toEqual([
      { name: "restart_program", label: "Restarting the program", steps: [`${VERIFY} restart`] },
    ]);
  });

  it("remove deletes the config, rereads and updates (tolerating a group already gone)", () => {
    expect(rendered(programRemovePlan(program()))).toEqual([
      {
        name: "remove_program",
        label: "Removing the program",
        steps: [
          "rm -f -- /etc/supervisor/conf.d/brokeforge-clxprog1.conf",
          "supervisorctl reread",
          `sh -c ${quote(UPDATE_GONE)} sh brokeforge-clxprog1`,
        ],
      },
    ]);
  });

  it("remove and restart need only a valid id (an old row with a bad command can still go)", () => {
    expect(() => programRemovePlan(program({ command: "a\nb" }))).not.toThrow();
    expect(() => programRemovePlan(program({ id: "../../etc/passwd" }))).toThrow(/bad program id/);
    expect(() => programRestartPlan(program({ id: "x y" }))).toThrow(/bad program id/);
  });

  it("a hostile directory and command stay inside quoted argv / the config value", () => {
    const directory = `/srv/it's "a" $(touch /tmp/pwned) \`id\` ünï 😀 -x`;
    const command = `bash -c 'echo "$(id)"; rm -rf *' -- --x=\`id\``;
    const steps = rendered(programInstallPlan(program({ directory, command })))[0]!.steps;
    expect(steps[1]).toBe(`sh -c ${quote(REQUIRE_DIR)} sh ${quote(directory)}`);
    expect(steps[3]).toContain(quote(`command=${command}\n`).slice(1, -1));
  });

  it("refuses paths that would need quoting or escaping in the config file", () => {
    expect(() => programInstallPlan(program(), { logDir: "/var/log/a%b" })).toThrow(/unsafe path/);
    expect(() => programInstallPlan(program(), { confDir: "/etc/a b" })).toThrow(/unsafe path/);
  });

  it("never sends the program's display name to the server", () => {
    for (const m of programInstallPlan(program({ name: "NAMEXYZ'$(reboot)" }))) {
      expect(script(m.steps).command).not.toContain("NAMEXYZ");
    }
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    const plans = [programInstallPlan(program()), programRemovePlan(program()), programRestartPlan(program()), supervisorUninstallPlan()];
    for (const m of plans.flat()) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
