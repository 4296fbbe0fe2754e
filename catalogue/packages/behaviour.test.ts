// Runs the generated milestone scripts for real, in a local bash, with stub executables first
// on PATH (apt-get, dpkg, ufw, crontab, systemctl, supervisorctl, dpkg-query, id, chown). Each stub
// records its argv (one file per call, NUL-separated) and emulates just enough state. File
// paths the plans write to are temp directories; nothing touches the real system.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { script } from "../../activities/ssh/shell";
import {
  firewallInstallPlan,
  firewallRuleAddPlan,
  firewallRuleRemovePlan,
  firewallUninstallPlan,
  firewallWebPortsMilestone,
  sshRuleRow,
  userRuleArgs,
  type FirewallRule,
} from "./firewall";
import {
  cronLine,
  schedulerUninstallPlan,
  taskInstallPlan,
  taskPausePlan,
  taskRemovePlan,
  taskResumePlan,
  taskScript,
  type ScheduledTask,
  type SchedulerPaths,
} from "./scheduler";
import {
  programConfig,
  programInstallPlan,
  programRemovePlan,
  programRestartPlan,
  supervisorUninstallPlan,
  type SupervisorProgram,
} from "./supervisor";
import type { Milestone, Plan } from "../kit";
import { APT_UPDATE_STAMP } from "../commands/apt";
import { STUB_BODIES, STUB_PRELUDE } from "../../tests/fixtures/stub-tools";

// The stub executables (and how each behaves like the real tool) are shared with the SSH test
// peer's fake servers: tests/fixtures/stub-tools.ts.
const RECORD = STUB_PRELUDE;
const STUBS = STUB_BODIES;

let root: string;
let stub: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "bf-packages-"));
  stub = join(root, "stub");
  for (const d of ["bin", "stub/calls", "stub/crontabs"]) mkdirSync(join(root, d), { recursive: true });
  for (const [name, body] of Object.entries(STUBS)) {
    writeFileSync(join(root, "bin", name), RECORD + body);
    chmodSync(join(root, "bin", name), 0o755);
  }
  writeFileSync(join(stub, "users"), "root\ndeploy\nbrokeforge\n");
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

// The apt command library keeps its update stamp under /var/lib/brokeforge: here, in the temp dir.
const local = (m: Milestone) =>
  m.steps.map((s) => ({ ...s, argv: s.argv.map((a) => (a === APT_UPDATE_STAMP ? join(stub, "apt-update.stamp") : a)) }));

// What the command library's apt steps look like when they reach the stubs.
const REPAIR = ["dpkg", "--force-confold", "--force-confdef", "--configure", "-a"];
const APT = ["apt-get", "-o", "DPkg::Lock::Timeout=120"];
const INSTALL = [...APT, "-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef", "install", "-y"];

/** Runs one milestone as the engine would (one script), locally. */
function run(m: Milestone) {
  const rendered = script(local(m));
  const r = spawnSync("bash", ["-c", rendered.command], {
    env: { PATH: `${join(root, "bin")}:/usr/bin:/bin`, STUB: stub, HOME: root, LC_ALL: "C", NODE_ENV: "test" },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, parsed: rendered.parse(r.stdout, r.stderr) };
}

function runPlan(plan: Plan) {
  for (const m of plan) {
    const r = run(m);
    expect(r.status, `${m.name}: ${r.stderr}`).toBe(0);
  }
}

/** Every stub call so far, as argv arrays (program name first), in order. */
function calls(): string[][] {
  const dir = join(stub, "calls");
  return readdirSync(dir)
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8").split("\0").slice(0, -1));
}

const crontabOf = (user: string) => {
  const f = join(stub, "crontabs", user);
  return existsSync(f) ? readFileSync(f, "utf8") : null;
};
const setCrontab = (user: string, text: string) => writeFileSync(join(stub, "crontabs", user), text);

describe("firewall, run against stubs", () => {
  it("install: SSH is allowed before ufw is enabled", () => {
    runPlan(firewallInstallPlan({ sshPort: 2222 }));
    expect(calls()).toEqual([
      [...APT, "update"],
      REPAIR,
      [...INSTALL, "ufw"],
      ["ufw", "allow", "proto", "tcp", "from", "any", "to", "any", "port", "2222", "comment", "brokeforge-ssh"],
      ["ufw", "default", "deny", "incoming"],
      ["ufw", "default", "allow", "outgoing"],
      ["ufw", "--force", "enable"],
      ["dpkg-query", "-W", "-f=${Version}", "ufw"],
    ]);
  });

  it("install output carries the ufw version for the operation log", () => {
    const r = run(firewallInstallPlan({ sshPort: 22 })[1]!);
    expect(r.parsed.steps.at(-1)!.stdout).toBe("1.2.3-1");
  });

  it("rule add/remove: argv arrive intact, removal deletes that rule only and is idempotent", () => {
    const ssh = { sshPort: 22 };
    runPlan(firewallInstallPlan(ssh));
    const mine: FirewallRule = { id: "clxr1", name: "x", port: "8000:8100", protocol: "udp", action: "deny", source: "2001:db8::/48" };
    const other: FirewallRule = { ...mine, id: "clxr2", port: "443", protocol: "tcp", action: "allow", source: null };
    runPlan(firewallRuleAddPlan(mine, ssh));
    runPlan(firewallRuleAddPlan(mine, ssh)); // retry: ufw skips the existing rule
    runPlan(firewallRuleAddPlan(other, ssh));
    expect(calls().filter((c) => c[0] === "ufw" && c[1] === "deny")).toEqual([
      ["ufw", ...userRuleArgs(mine)],
      ["ufw", ...userRuleArgs(mine)],
    ]);
    const rules = () => readFileSync(join(stub, "ufw-rules"), "utf8").trim().split("\n");
    expect(rules()).toEqual([
      "allow proto tcp from any to any port 22 comment brokeforge-ssh",
      "deny proto udp from 2001:db8::/48 to any port 8000:8100 comment brokeforge:clxr1",
      "allow proto tcp from any to any port 443 comment brokeforge:clxr2",
    ]);

    runPlan(firewallRuleRemovePlan(mine, ssh));
    expect(calls().at(-1)).toEqual(["ufw", "--force", "delete", ...userRuleArgs(mine)]);
    const second = run(firewallRuleRemovePlan(mine, ssh)[0]!); // already gone: still succeeds
    expect(second.status).toBe(0);
    expect(second.parsed.steps[0]!.stdout).toContain("Could not delete non-existent rule");
    expect(rules()).toEqual([
      "allow proto tcp from any to any port 22 comment brokeforge-ssh",
      "allow proto tcp from any to any port 443 comment brokeforge:clxr2",
    ]);
  });

  it("the stub replaces a rule with the same tuple, as ufw does: one rule per port, protocol and source", () => {
    runPlan(firewallInstallPlan({ sshPort: 22 }));
    const allow: FirewallRule = { id: "clxa", name: "a", port: "443", protocol: "tcp", action: "allow", source: null };
    runPlan(firewallRuleAddPlan(allow, { sshPort: 22 }));
    const r = run(firewallRuleAddPlan({ ...allow, id: "clxb", action: "deny" }, { sshPort: 22 })[0]!);
    expect(r.parsed.steps[0]!.stdout).toContain("Rule updated");
    expect(readFileSync(join(stub, "ufw-rules"), "utf8")).toBe(
      "allow proto tcp from any to any port 22 comment brokeforge-ssh\ndeny proto tcp from any to any port 443 comment brokeforge:clxb\n",
    );
  });

  it("removing a user rule with the SSH rule's tuple keeps SSH open", () => {
    runPlan(firewallInstallPlan({ sshPort: 22 }));
    const same: FirewallRule = { id: "clxr3", name: "ssh too", port: "22", protocol: "tcp", action: "allow", source: null };
    runPlan(firewallRuleAddPlan(same, { sshPort: 22 }));
    runPlan(firewallRuleRemovePlan(same, { sshPort: 22 }));
    expect(readFileSync(join(stub, "ufw-rules"), "utf8")).toBe("allow proto tcp from any to any port 22 comment brokeforge-ssh\n");
    expect(calls().some((c) => c.includes("delete"))).toBe(false);
  });

  it("provisioning's rules: SSH, 80 and 443; removing the HTTP row closes 80, removing the SSH row keeps SSH", () => {
    const web = firewallWebPortsMilestone("clsrv1", 22);
    runPlan([...firewallInstallPlan({ sshPort: 22, serverId: "clsrv1" }), web, web]);
    const rules = () => readFileSync(join(stub, "ufw-rules"), "utf8");
    expect(rules()).toBe(
      "allow proto tcp from any to any port 22 comment brokeforge-ssh\n" +
        "allow proto tcp from any to any port 80 comment brokeforge:http-clsrv1\n" +
        "allow proto tcp from any to any port 443 comment brokeforge:https-clsrv1\n",
    );
    const [http] = web.brings!.rows as unknown as FirewallRule[];
    runPlan(firewallRuleRemovePlan(http!, { sshPort: 22 }));
    runPlan(firewallRuleRemovePlan(sshRuleRow("clsrv1", 22), { sshPort: 22 }));
    expect(rules()).toBe(
      "allow proto tcp from any to any port 22 comment brokeforge-ssh\n" +
        "allow proto tcp from any to any port 443 comment brokeforge:https-clsrv1\n",
    );
  });

  it("a ufw error other than 'non-existent' fails the removal with ufw's message", () => {
    writeFileSync(join(root, "bin", "ufw"), `${RECORD}echo "ERROR: problem running iptables" >&2; exit 1\n`);
    const r = run(
      firewallRuleRemovePlan({ id: "clxr4", name: "x", port: "80", protocol: "tcp", action: "allow", source: null }, { sshPort: 22 })[0]!,
    );
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.stdout).toContain("ERROR: problem running iptables");
  });

  it("uninstall disables then purges; a retry after ufw is gone still succeeds", () => {
    runPlan(firewallUninstallPlan());
    expect(calls()).toEqual([["ufw", "--force", "disable"], REPAIR, [...APT, "purge", "-y", "ufw"]]);
    rmSync(join(root, "bin", "ufw"));
    const r = run(firewallUninstallPlan()[0]!);
    expect(r.status).toBe(0);
    expect(r.parsed.steps[0]!.stdout).toContain("ufw is not installed");
  });
});

describe("scheduler, run against stubs", () => {
  let paths: SchedulerPaths;
  beforeEach(() => {
    paths = { tasksDir: join(root, "opt/tasks"), logDir: join(root, "log"), crontabsDir: join(stub, "crontabs") };
  });
  const HOSTILE = `echo "it's" $(id) \`id\` ; rm -rf * -- -x %s %% ünï 😀 'x'"y"\\ ${"z".repeat(800)}`;
  const task = (over: Partial<ScheduledTask> = {}): ScheduledTask => ({
    id: "clxt1",
    name: "n",
    command: HOSTILE,
    user: "deploy",
    frequency: "custom",
    cron: "*/5 * * * mon",
    ...over,
  });
  const HUMAN =
    "MAILTO=ops@example.com\n# my backups\n0 5 * * * /usr/local/bin/backup --all # brokeforge:task:clxt1 mentioned\n\n30 2 * * * echo '%' # brokeforge:task:clxt1x\n";

  it("install writes the hostile command byte-identical and adds exactly one line, even twice", () => {
    runPlan(taskInstallPlan(task(), paths));
    const scriptFile = join(paths.tasksDir, "clxt1.sh");
    expect(readFileSync(scriptFile, "utf8")).toBe(taskScript(task()));
    expect(readFileSync(scriptFile, "utf8")).toContain(`\n${HOSTILE}\n`);
    expect(statSync(scriptFile).mode & 0o777).toBe(0o600);
    expect(existsSync(join(paths.logDir, "task-clxt1.log"))).toBe(true);
    expect(crontabOf("deploy")).toBe(`${cronLine(task(), paths)}\n`);
    // The script is handed over before it is renamed into place (files.write), the log after it exists.
    expect(calls()).toContainEqual(["chown", "--", "deploy:", `${scriptFile}.brokeforge-tmp`]);
    expect(calls()).toContainEqual(["chown", "--", "deploy:", join(paths.logDir, "task-clxt1.log")]);

    const writesBefore = calls().filter((c) => c[0] === "crontab" && c.at(-1) === "-").length;
    runPlan(taskInstallPlan(task(), paths));
    expect(crontabOf("deploy")).toBe(`${cronLine(task(), paths)}\n`);
    // nothing changed, so nothing was written the second time
    expect(calls().filter((c) => c[0] === "crontab" && c.at(-1) === "-").length).toBe(writesBefore);
    expect(existsSync(`${scriptFile}.tmp`)).toBe(false);
  });

  it("an edited task replaces its own line; human lines stay byte-identical", () => {
    setCrontab("deploy", HUMAN);
    runPlan(taskInstallPlan(task(), paths));
    expect(crontabOf("deploy")).toBe(`${HUMAN}${cronLine(task(), paths)}\n`);
    const edited = task({ frequency: "hourly" });
    runPlan(taskInstallPlan(edited, paths));
    expect(crontabOf("deploy")).toBe(`${HUMAN}${cronLine(edited, paths)}\n`);
    runPlan(taskRemovePlan(edited, paths));
    expect(crontabOf("deploy")).toBe(HUMAN);
    expect(existsSync(join(paths.tasksDir, "clxt1.sh"))).toBe(false);
  });

  it("removal deletes exactly its own line, not a task whose id it prefixes", () => {
    const t1 = task({ id: "t1", frequency: "daily" });
    const t10 = task({ id: "t10", frequency: "hourly" });
    runPlan(taskInstallPlan(t1, paths));
    runPlan(taskInstallPlan(t10, paths));
    runPlan(taskRemovePlan(t1, paths));
    expect(crontabOf("deploy")).toBe(`${cronLine(t10, paths)}\n`);
  });

  it("the first task for a user with no crontab yet gets a crontab with just its line", () => {
    expect(crontabOf("root")).toBeNull();
    runPlan(taskInstallPlan(task({ user: "root" }), paths));
    expect(crontabOf("root")).toBe(`${cronLine(task({ user: "root" }), paths)}\n`);
  });

  it("removing from a user without a crontab writes nothing (no empty crontab)", () => {
    runPlan(taskRemovePlan(task(), paths));
    expect(crontabOf("deploy")).toBeNull();
    expect(calls().filter((c) => c[0] === "crontab" && c.at(-1) === "-")).toEqual([]);
  });

  it("pause removes the line but keeps the script; resume puts the line back", () => {
    setCrontab("deploy", HUMAN);
    runPlan(taskInstallPlan(task(), paths));
    runPlan(taskPausePlan(task()));
    expect(crontabOf("deploy")).toBe(HUMAN);
    expect(existsSync(join(paths.tasksDir, "clxt1.sh"))).toBe(true);
    runPlan(taskPausePlan(task())); // retry
    expect(crontabOf("deploy")).toBe(HUMAN);
    runPlan(taskResumePlan(task(), paths));
    expect(crontabOf("deploy")).toBe(`${HUMAN}${cronLine(task(), paths)}\n`);
  });

  it("a failing `crontab -l` aborts instead of replacing the user's crontab", () => {
    setCrontab("deploy", HUMAN);
    writeFileSync(join(stub, "crontab-broken"), "");
    const r = run(taskInstallPlan(task(), paths)[0]!);
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.label).toBe("Adding the crontab entry");
    expect(r.parsed.failed?.stderr).toContain("crontab -l failed for deploy: crontab: error opening spool");
    expect(crontabOf("deploy")).toBe(HUMAN);
  });

  it("an unknown user fails the install at the first step, but removal succeeds", () => {
    const r = run(taskInstallPlan(task({ user: "ghost" }), paths)[0]!);
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.index).toBe(0);
    expect(r.parsed.failed?.stderr).toContain("no such user");
    runPlan(taskRemovePlan(task({ user: "ghost" }), paths));
  });

  it("uninstall removes every BrokeForge line from every crontab, keeps the rest", () => {
    setCrontab("deploy", HUMAN);
    runPlan(taskInstallPlan(task(), paths));
    runPlan(taskInstallPlan(task({ id: "clxt2", user: "root", frequency: "reboot" }), paths));
    setCrontab("brokeforge", "* * * * * true\n");
    runPlan(schedulerUninstallPlan(paths));
    // (the blank line that preceded the removed last line is trailing now, and not kept)
    expect(crontabOf("deploy")).toBe(HUMAN.replace("\n30 2 * * * echo '%' # brokeforge:task:clxt1x\n", ""));
    expect(crontabOf("root")).toBe("\n");
    expect(crontabOf("brokeforge")).toBe("* * * * * true\n");
    expect(existsSync(paths.tasksDir)).toBe(false);
  });
});

describe("supervisor, run against stubs", () => {
  let opts: { confDir: string; logDir: string; verifySeconds: number };
  let workdir: string;
  beforeEach(() => {
    opts = { confDir: join(root, "conf.d"), logDir: join(root, "log"), verifySeconds: 2 };
    workdir = join(root, `srv/it's "a" $(touch pwned) \`id\` ünï 😀 -x`);
    mkdirSync(workdir, { recursive: true });
  });
  const program = (over: Partial<SupervisorProgram> = {}): SupervisorProgram => ({
    id: "clxp1",
    name: "n",
    command: `bash -c 'echo "$(id)" 100%; exec sleep 1d' -- --x=\`id\``,
    directory: workdir,
    user: "brokeforge",
    numprocs: 1,
    autostart: true,
    autorestart: true,
    ...over,
  });
  const conf = () => join(opts.confDir, "brokeforge-clxp1.conf");

  it("install writes the config byte-identical, applies it and sees RUNNING", () => {
    runPlan(programInstallPlan(program(), opts));
    expect(readFileSync(conf(), "utf8")).toBe(programConfig(program(), opts));
    expect(readFileSync(conf(), "utf8")).toContain(`\ndirectory=${workdir}\n`);
    expect(statSync(conf()).mode & 0o777).toBe(0o600);
    expect(existsSync(join(root, "pwned"))).toBe(false);
    expect(calls()).toEqual([
      ["id", "-u", "--", "brokeforge"],
      ["supervisorctl", "reread"],
      ["supervisorctl", "update", "brokeforge-clxp1"],
      ["supervisorctl", "start", "brokeforge-clxp1:*"],
      ["supervisorctl", "status", "brokeforge-clxp1:*"],
    ]);
    runPlan(programInstallPlan(program(), opts)); // retry-safe
    expect(readFileSync(conf(), "utf8")).toBe(programConfig(program(), opts));
  });

  it("a missing working directory fails before anything is written", () => {
    const r = run(programInstallPlan(program({ directory: "/nonexistent/dir" }), opts)[0]!);
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.stderr).toContain("directory /nonexistent/dir does not exist on the server");
    expect(existsSync(conf())).toBe(false);
  });

  it("FATAL fails at once with the status text and the log tail", () => {
    mkdirSync(opts.logDir, { recursive: true });
    writeFileSync(join(opts.logDir, "brokeforge-clxp1_00.log"), "bash: line 1: artisan: No such file or directory\n");
    writeFileSync(
      join(stub, "sv-status"),
      "brokeforge-clxp1:brokeforge-clxp1_00   FATAL     Exited too quickly (process log may have details)\n",
    );
    const r = run(programInstallPlan(program(), opts)[1]!);
    expect(r.status).toBe(1);
    // At once: the first status seen ends the wait (no polling until verifySeconds, cf. STARTING below).
    expect(calls().filter((c) => c[0] === "supervisorctl" && c[1] === "status")).toHaveLength(1);
    expect(r.parsed.failed?.label).toBe("Waiting for the program to run");
    expect(r.parsed.failed?.stderr).toContain("FATAL     Exited too quickly");
    expect(r.parsed.failed?.stderr).toContain("artisan: No such file or directory");
  });

  it("BACKOFF in one of several processes fails too", () => {
    writeFileSync(
      join(stub, "sv-status"),
      "brokeforge-clxp1:brokeforge-clxp1_00   RUNNING   pid 1, uptime 0:00:02\nbrokeforge-clxp1:brokeforge-clxp1_01   BACKOFF   Exited too quickly\n",
    );
    const r = run(programRestartPlan(program({ numprocs: 2 }), opts)[0]!);
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.stderr).toContain("BACKOFF");
    expect(calls()[0]).toEqual(["supervisorctl", "restart", "brokeforge-clxp1:*"]);
  });

  it("a program stuck in STARTING fails after verifySeconds", () => {
    writeFileSync(join(stub, "sv-status"), "brokeforge-clxp1:brokeforge-clxp1_00   STARTING\n");
    const r = run(programRestartPlan(program(), opts)[0]!);
    expect(r.status).toBe(1);
    expect(r.parsed.failed?.stderr).toContain("brokeforge-clxp1 did not reach RUNNING");
    expect(calls().filter((c) => c[1] === "status")).toHaveLength(2);
  });

  it("removal deletes the config and is idempotent when the group is already gone", () => {
    runPlan(programInstallPlan(program(), opts));
    runPlan(programRemovePlan(program(), opts));
    expect(existsSync(conf())).toBe(false);
    writeFileSync(join(stub, "sv-update"), "ERROR: no such group: brokeforge-clxp1\n");
    runPlan(programRemovePlan(program(), opts));
  });

  it("uninstall deletes only BrokeForge configs, then purges", () => {
    runPlan(programInstallPlan(program(), opts));
    writeFileSync(join(opts.confDir, "human.conf"), "[program:mine]\n");
    runPlan(supervisorUninstallPlan(opts));
    expect(readdirSync(opts.confDir)).toEqual(["human.conf"]);
    expect(calls().at(-1)).toEqual([...APT, "purge", "-y", "supervisor"]);
  });
});
