// PostgreSQL: Debian's `postgresql` (15 on bookworm, 17 on trixie), on the loopback only,
// with a generated password for the `postgres` superuser. Pure builders.
//
// The version's directories (/etc/postgresql/<major>/main) are found on the server, from the
// `postgresql` metapackage's dependency: whatever major this OS's apt installed.
// Passwords on 127.0.0.1/::1 are checked with scram-sha-256 (Debian's pg_hba.conf); the
// socket stays `peer` (`sudo -u postgres psql` as before).
//
// How the password travels: one argv element of the `sh -c` step that sets it (alive for that
// step only), handed by the `printf` builtin to psql's stdin and by environment (PGPASSWORD,
// readable by root only) to the check — never in psql's argv. The session turns statement
// logging off first, so not even a failed ALTER puts it in PostgreSQL's log.
import { apt, dpkg, systemctl } from "../commands";
import { restartFlag, WRITE_FILE_IF_CHANGED } from "../commands/files";
import { definePackage, milestone, step, type PlanContext, type Plan } from "../kit";
import { plainSecret } from "./plain-secret";

export const POSTGRESQL_CONF = [
  "# Managed by BrokeForge: changes here are overwritten.",
  "# The loopback only (127.0.0.1 and ::1): sites on this server connect to localhost.",
  "listen_addresses = 'localhost'",
  "",
].join("\n");

// Sets $major from the metapackage's dependency ("postgresql-15").
const FIND_MAJOR = [
  "major=$(dpkg-query -W -f='${Depends}' postgresql | grep -o 'postgresql-[0-9][0-9]*' | head -n 1)",
  "major=${major#postgresql-}",
  '[ -n "$major" ] || { echo "cannot tell which PostgreSQL version the postgresql package installed" >&2; exit 1; }',
].join("\n");

export const PRINT_MAJOR = `${FIND_MAJOR}\necho "$major"`;

// $1 the writer (files.ts WRITE_FILE_IF_CHANGED), $2 content, $3 restart flag: the writer,
// run on the main cluster's conf.d (included by Debian's postgresql.conf).
export const WRITE_CONF = [
  FIND_MAJOR,
  "dir=/etc/postgresql/$major/main/conf.d",
  '[ -d "$dir" ] || { echo "$dir does not exist: the $major/main cluster is missing (see pg_lsclusters)" >&2; exit 1; }',
  'exec sh -c "$1" sh "$dir/brokeforge.conf" "$2" 0644 postgres:postgres "$3"',
].join("\n");

// $1 password. A re-run that finds it working changes nothing (a new ALTER would store a new
// scram salt).
export const SET_SUPERUSER_PASSWORD = [
  "pw=$1",
  'case $pw in ""|*[!A-Za-z0-9_-]*) echo "refusing a password with characters other than A-Z a-z 0-9 _ -" >&2; exit 2 ;; esac',
  "cd /", // psql as postgres cannot read root's working directory
  "check() { PGPASSWORD=$pw psql -X -w -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1; }",
  'if check; then echo "postgres already logs in with its password on 127.0.0.1"; exit 0; fi',
  "printf \"SET log_statement = 'none';\\nSET log_min_error_statement = 'panic';\\nALTER USER postgres WITH PASSWORD '%s';\\n\" \"$pw\" |",
  "  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres || exit 1",
  'check || { echo "the new password does not log in on 127.0.0.1 (pg_hba.conf?)" >&2; exit 1; }',
  'echo "postgres password set"',
].join("\n");

export function postgresqlInstallPlan(ctx: PlanContext): Plan {
  const password = plainSecret(ctx, "postgresql.superuser_password");
  return [
    milestone("postgresql_install", "Installing PostgreSQL", [apt.update(), ...apt.install(["postgresql"])]),
    milestone(
      "postgresql_configure",
      "Binding PostgreSQL to localhost and setting the postgres password",
      [
        step(
          "Writing BrokeForge's PostgreSQL configuration",
          "sh",
          "-c",
          WRITE_CONF,
          "sh",
          WRITE_FILE_IF_CHANGED,
          POSTGRESQL_CONF,
          restartFlag("postgresql"),
        ),
        systemctl.enableNow("postgresql"),
        // postgresql.service stands for every cluster: a restart restarts them (PartOf=).
        systemctl.restartIfChanged("postgresql"),
        step("Setting the postgres superuser password", "sh", "-c", SET_SUPERUSER_PASSWORD, "sh", password),
        { ...step("Reading the PostgreSQL major version", "sh", "-c", PRINT_MAJOR, "sh"), output: "major" },
        dpkg.version("postgresql"),
      ],
      {
        records: {
          type: "postgresql",
          name: "postgresql",
          versionFrom: "version",
          configuration: { listenAddresses: "localhost" },
          configurationFrom: { major: "major" },
        },
      },
    ),
  ];
}

// Our conf.d file is not the package's: left behind, it keeps /etc/postgresql/<major>/main
// from being removed by the purge.
export const REMOVE_CONF = "rm -f -- /etc/postgresql/*/main/conf.d/brokeforge.conf";

/**
 * Purges PostgreSQL: the metapackage, postgresql-common (apt takes the versioned server
 * packages with it, they depend on it) and postgresql-client-common (the same for the
 * clients). Debian's purge of a server package drops its clusters: the databases go too, and
 * the label says so (the removal's confirmation shows it).
 */
export function postgresqlRemovePlan(): Plan {
  return [
    milestone(
      "postgresql_remove",
      "Removing PostgreSQL and its databases",
      [
        step("Deleting BrokeForge's PostgreSQL configuration", "sh", "-c", REMOVE_CONF, "sh"),
        ...apt.purge(["postgresql", "postgresql-common", "postgresql-client-common"]),
      ],
      { removes: { type: "postgresql", name: "postgresql" } },
    ),
  ];
}

export const postgresql = definePackage({
  type: "postgresql",
  name: "postgresql",
  label: "PostgreSQL",
  description: "Debian's PostgreSQL server, listening on localhost only, with a generated password for the postgres superuser.",
  aptPackages: ["postgresql"],
  requires: [],
  secrets: ["superuser_password"],
  install: (ctx) => postgresqlInstallPlan(ctx),
  remove: () => postgresqlRemovePlan(),
});
