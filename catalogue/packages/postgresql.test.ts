import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { WRITE_FILE_IF_CHANGED } from "../commands/files";
import { RESTART_IF_CHANGED } from "../commands/systemctl";
import { secretNames, type Plan, type PlanContext } from "../kit";
import {
  postgresql,
  POSTGRESQL_CONF,
  postgresqlInstallPlan,
  postgresqlRemovePlan,
  PRINT_MAJOR,
  REMOVE_CONF,
  SET_SUPERUSER_PASSWORD,
  WRITE_CONF,
} from "./postgresql";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
const PW = "Pq3_-9aZbQ7wE2rT5yU8iO1pL4sD6fGh";
const ctx = (secrets: Record<string, string> = { "postgresql.superuser_password": PW }): PlanContext => ({
  server: { id: "clsrv1", sshPort: 22, sshUser: "root" },
  secrets,
});

describe("postgresql package", () => {
  it("is Debian's postgresql, with one generated secret", () => {
    expect(postgresql.type).toBe("postgresql");
    expect(postgresql.aptPackages).toEqual(["postgresql"]);
    expect(secretNames(postgresql)).toEqual(["postgresql.superuser_password"]);
  });

  it("installs, asserts localhost in the cluster's conf.d, restarts only on change, sets the password and records version and major", () => {
    const plan = postgresqlInstallPlan(ctx());
    expect(POSTGRESQL_CONF).toBe(
      "# Managed by BrokeForge: changes here are overwritten.\n# The loopback only (127.0.0.1 and ::1): sites on this server connect to localhost.\nlisten_addresses = 'localhost'\n",
    );
    expect(rendered(plan)).toEqual([
      { name: "postgresql_install", label: "Installing PostgreSQL", steps: [SH_APT_UPDATE, ...shAptInstall("postgresql")] },
      {
        name: "postgresql_configure",
        label: "Binding PostgreSQL to localhost and setting the postgres password",
        steps: [
          `sh -c ${quote(WRITE_CONF)} sh ${quote(WRITE_FILE_IF_CHANGED)} ${quote(POSTGRESQL_CONF)} /var/lib/brokeforge/restart-pending/postgresql`,
          "systemctl enable --now postgresql",
          `sh -c ${quote(RESTART_IF_CHANGED)} sh postgresql /var/lib/brokeforge/restart-pending/postgresql`,
          `sh -c ${quote(SET_SUPERUSER_PASSWORD)} sh ${PW}`,
          `sh -c ${quote(PRINT_MAJOR)} sh`,
          "dpkg-query -W '-f=${Version}' postgresql",
        ],
      },
    ]);
    expect(WRITE_CONF).toContain("dir=/etc/postgresql/$major/main/conf.d\n");
    expect(WRITE_CONF).toContain('exec sh -c "$1" sh "$dir/brokeforge.conf" "$2" 0644 postgres:postgres "$3"');
    expect(plan[1]!.steps[4]!.output).toBe("major");
    expect(plan[1]!.records).toEqual({
      type: "postgresql",
      name: "postgresql",
      versionFrom: "version",
      configuration: { listenAddresses: "localhost" },
      configurationFrom: { major: "major" },
    });
  });

  it("sets the password as postgres over the socket, SQL on stdin with statement logging off", () => {
    expect(SET_SUPERUSER_PASSWORD).toContain(
      `printf "SET log_statement = 'none';\\nSET log_min_error_statement = 'panic';\\nALTER USER postgres WITH PASSWORD '%s';\\n" "$pw" |\n  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres || exit 1`,
    );
    const steps = postgresqlInstallPlan(ctx())[1]!.steps;
    expect(steps.filter((s) => s.argv.some((a) => a.includes(PW))).map((s) => s.argv.indexOf(PW))).toEqual([4]);
  });

  it.each(["pw'; DROP ROLE x; --aaaaaaa", "abc", "abcdefghijklmnop\\"])("refuses the secret %j", (value) => {
    expect(() => postgresqlInstallPlan(ctx({ "postgresql.superuser_password": value }))).toThrow(
      /not 16 or more characters of A-Z a-z 0-9 _ -/,
    );
  });

  it("deletes only BrokeForge's conf.d file of each cluster", () => {
    expect(REMOVE_CONF).toBe("rm -f -- /etc/postgresql/*/main/conf.d/brokeforge.conf");
  });

  it("purges the metapackage and the common packages (the versioned ones go with them)", () => {
    const plan = postgresqlRemovePlan();
    expect(rendered(plan)).toEqual([
      {
        name: "postgresql_remove",
        label: "Removing PostgreSQL and its databases",
        steps: [`sh -c ${quote(REMOVE_CONF)} sh`, ...shAptPurge("postgresql", "postgresql-common", "postgresql-client-common")],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "postgresql", name: "postgresql" });
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    for (const m of [...postgresqlInstallPlan(ctx()), ...postgresqlRemovePlan()]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
