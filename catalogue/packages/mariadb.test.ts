import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { WRITE_FILE_IF_CHANGED } from "../commands/files";
import { RESTART_IF_CHANGED } from "../commands/systemctl";
import { secretNames, type Plan, type PlanContext } from "../kit";
import { mariadb, MARIADB_CONF, mariadbInstallPlan, mariadbRemovePlan, SET_ROOT_PASSWORD } from "./mariadb";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
const PW = "Xk3_-9aZbQ7wE2rT5yU8iO1pL4sD6fGh";
const ctx = (secrets: Record<string, string> = { "mariadb.root_password": PW }): PlanContext => ({
  server: { id: "clsrv1", sshPort: 22, sshUser: "root" },
  secrets,
});

describe("mariadb package", () => {
  it("is Debian's MySQL-compatible server, with one generated secret", () => {
    expect(mariadb.type).toBe("mariadb");
    expect(mariadb.label).toBe("MariaDB (MySQL-compatible)");
    expect(mariadb.description).toMatch(/MySQL-compatible/);
    expect(mariadb.aptPackages).toEqual(["mariadb-server"]);
    expect(secretNames(mariadb)).toEqual(["mariadb.root_password"]);
  });

  it("installs, binds to 127.0.0.1 in its own file, restarts only on change, sets the root password and records the version", () => {
    const plan = mariadbInstallPlan(ctx());
    expect(MARIADB_CONF).toBe(
      "# Managed by BrokeForge: changes here are overwritten.\n[mysqld]\n# The loopback only: sites on this server connect to 127.0.0.1 or the socket.\nbind-address = 127.0.0.1\n",
    );
    expect(rendered(plan)).toEqual([
      { name: "mariadb_install", label: "Installing MariaDB", steps: [SH_APT_UPDATE, ...shAptInstall("mariadb-server", "mariadb-client")] },
      {
        name: "mariadb_configure",
        label: "Binding MariaDB to localhost and setting the root password",
        steps: [
          `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/mysql/mariadb.conf.d/99-brokeforge.cnf ${quote(MARIADB_CONF)} 0644 '' /var/lib/brokeforge/restart-pending/mariadb`,
          "systemctl enable --now mariadb",
          `sh -c ${quote(RESTART_IF_CHANGED)} sh mariadb /var/lib/brokeforge/restart-pending/mariadb`,
          `sh -c ${quote(SET_ROOT_PASSWORD)} sh ${PW}`,
          "dpkg-query -W '-f=${Version}' mariadb-server",
        ],
      },
    ]);
    expect(plan[1]!.records).toEqual({
      type: "mariadb",
      name: "mariadb-server",
      versionFrom: "version",
      configuration: { bindAddress: "127.0.0.1" },
    });
    expect(plan[1]!.steps.at(-1)!.output).toBe("version");
  });

  it("keeps root's socket login and adds the password, in SQL fed on stdin (never the client's argv)", () => {
    expect(SET_ROOT_PASSWORD).toContain(
      `printf "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('%s');\\n" "$pw" | mariadb || exit 1`,
    );
    expect(SET_ROOT_PASSWORD).not.toMatch(/mariadb[^\n|]*\$pw/);
    // the password is one argv element, the last one: nowhere else in the milestone
    const steps = mariadbInstallPlan(ctx())[1]!.steps;
    expect(steps.filter((s) => s.argv.some((a) => a.includes(PW))).map((s) => s.argv.indexOf(PW))).toEqual([4]);
  });

  it.each([
    ["a quote", "abc'def0123456789xyz"],
    ["a space", "abc def0123456789xyz"],
    ["a shell expansion", "$(reboot)0123456789xyz"],
    ["a newline", "abcdef0123456789\nxyz"],
    ["too short a value", "abc"],
  ])("refuses a secret with %s, without showing it", (_what, value) => {
    expect(() => mariadbInstallPlan(ctx({ "mariadb.root_password": value }))).toThrow(
      /^The secret mariadb.root_password is not 16 or more characters of A-Z a-z 0-9 _ -: refusing/,
    );
    try {
      mariadbInstallPlan(ctx({ "mariadb.root_password": value }));
    } catch (err) {
      expect((err as Error).message).not.toContain(value);
    }
  });

  it("says so when the engine did not load the secret", () => {
    expect(() => mariadbInstallPlan(ctx({}))).toThrow("The secret mariadb.root_password was not loaded for this plan");
  });

  it("removes BrokeForge's file and purges server, client and their -core packages", () => {
    const plan = mariadbRemovePlan();
    expect(rendered(plan)).toEqual([
      {
        name: "mariadb_remove",
        label: "Removing MariaDB (the databases in /var/lib/mysql are kept)",
        steps: [
          "rm -f -- /etc/mysql/mariadb.conf.d/99-brokeforge.cnf",
          ...shAptPurge("mariadb-server", "mariadb-client", "mariadb-server-core", "mariadb-client-core"),
        ],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "mariadb", name: "mariadb-server" });
    expect(mariadb.remove()).toEqual(plan);
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    for (const m of [...mariadbInstallPlan(ctx()), ...mariadbRemovePlan()]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
