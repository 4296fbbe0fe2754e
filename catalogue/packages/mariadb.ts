// MariaDB: Debian's MySQL-compatible database server (the UI says so), on the loopback only,
// with a generated root password. Pure builders.
//
// root keeps Debian's socket login (`sudo mariadb` as the OS root, no password) and gains a
// password for everything else (`mariadb -h 127.0.0.1 -u root -p`, sites' .env):
// `IDENTIFIED VIA unix_socket OR mysql_native_password`. No /root/.my.cnf: the socket login
// already serves root on the server, and a second plaintext copy of the password on disk
// would serve nobody (Forge does not write one either).
//
// How the password travels: it is one argv element of the `sh -c` step that sets it (alive
// for that step only, well under a second), handed by the `printf` builtin to the client's
// stdin (the SQL) and by environment (MYSQL_PWD, readable by root only) to the check — never
// in the argv of the long-lived `mariadb` client. The runner redacts it from stored output.
import { apt, dpkg, files, systemctl } from "../commands";
import { definePackage, milestone, step, type PlanContext, type Plan } from "../kit";
import { plainSecret } from "./plain-secret";

export const MARIADB_CONF_PATH = "/etc/mysql/mariadb.conf.d/99-brokeforge.cnf";

// 99-: read after Debian's 50-server.cnf, so ours wins.
export const MARIADB_CONF = [
  "# Managed by BrokeForge: changes here are overwritten.",
  "[mysqld]",
  "# The loopback only: sites on this server connect to 127.0.0.1 or the socket.",
  "bind-address = 127.0.0.1",
  "",
].join("\n");

// $1 password. A re-run that finds the password working (and root's socket login, which
// this script itself needs) changes nothing: ALTER USER would rewrite password_last_changed.
export const SET_ROOT_PASSWORD = [
  "pw=$1",
  'case $pw in ""|*[!A-Za-z0-9_-]*) echo "refusing a password with characters other than A-Z a-z 0-9 _ -" >&2; exit 2 ;; esac',
  "if MYSQL_PWD=$pw mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -u root -N -e 'SELECT 1' >/dev/null 2>&1 &&",
  "  mariadb -N -e 'SELECT 1' >/dev/null 2>&1; then",
  '  echo "root already logs in with its password and over the socket"; exit 0',
  "fi",
  "printf \"ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('%s');\\n\" \"$pw\" | mariadb || exit 1",
  // The proof: a password login over TCP, as a site would connect.
  "MYSQL_PWD=$pw mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -u root -N -e 'SELECT 1' >/dev/null || exit 1",
  'echo "root password set (the socket login for root is kept)"',
].join("\n");

export function mariadbInstallPlan(ctx: PlanContext): Plan {
  const password = plainSecret(ctx, "mariadb.root_password");
  return [
    milestone("mariadb_install", "Installing MariaDB", [apt.update(), ...apt.install(["mariadb-server", "mariadb-client"])]),
    milestone(
      "mariadb_configure",
      "Binding MariaDB to localhost and setting the root password",
      [
        files.writeIfChanged(MARIADB_CONF_PATH, MARIADB_CONF, {
          mode: "0644",
          restarts: "mariadb",
          label: "Writing BrokeForge's MariaDB configuration",
        }),
        systemctl.enableNow("mariadb"),
        systemctl.restartIfChanged("mariadb"),
        step("Setting the root password", "sh", "-c", SET_ROOT_PASSWORD, "sh", password),
        dpkg.version("mariadb-server"),
      ],
      { records: { type: "mariadb", name: "mariadb-server", versionFrom: "version", configuration: { bindAddress: "127.0.0.1" } } },
    ),
  ];
}

/**
 * Purges the server and client (and their -core packages, which apt would otherwise leave
 * behind as dependencies). Debian keeps the databases (/var/lib/mysql) on a non-interactive
 * purge: a package removal never deletes user data.
 */
export function mariadbRemovePlan(): Plan {
  return [
    milestone(
      "mariadb_remove",
      "Removing MariaDB (the databases in /var/lib/mysql are kept)",
      [
        files.remove([MARIADB_CONF_PATH], "Deleting BrokeForge's MariaDB configuration"),
        ...apt.purge(["mariadb-server", "mariadb-client", "mariadb-server-core", "mariadb-client-core"]),
      ],
      { removes: { type: "mariadb", name: "mariadb-server" } },
    ),
  ];
}

export const mariadb = definePackage({
  type: "mariadb",
  name: "mariadb-server",
  label: "MariaDB (MySQL-compatible)",
  description: "Debian's MySQL-compatible database server, listening on 127.0.0.1 only, with a generated root password.",
  aptPackages: ["mariadb-server"],
  requires: [],
  secrets: ["root_password"],
  install: (ctx) => mariadbInstallPlan(ctx),
  remove: () => mariadbRemovePlan(),
});
