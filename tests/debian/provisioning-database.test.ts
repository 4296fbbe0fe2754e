// Provisioning role "database" with PostgreSQL on a real Debian 13 (trixie) server: added
// through the tRPC caller with the role, its first connection test starts the provisioning,
// which ends active. Then, read back from the server: the facts say Debian 13; exactly the
// role's packages (base, site_user, firewall, postgresql — no nginx or PHP) are active in
// BrokeForge's inventory with dpkg's versions; PostgreSQL listens on the loopback only and
// takes the password BrokeForge stored (over TCP, a wrong one refused); ufw opens only SSH;
// the password is in none of what BrokeForge recorded (milestone output, error logs, Temporal
// histories) nor in the server's logs. Last, removing the postgresql package purges it with
// its databases.
//
// The password never travels in a command: the test writes it into the container's file
// system from the host (rootDir, 0600) and the shell reads it into PGPASSWORD, psql's
// environment; grep reads it as a pattern file.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, lastOperation, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

let e: Engine;
let server: DebianServer;
let serverId: string;
let password: string;
const timings: Record<string, number> = {};
/** Provisioning's first run downloads through the apt cache from Debian's mirror: four apt runs. */
const PROVISION_TIMEOUT_MS = 8 * 60_000;
const SECRET = "postgresql.superuser_password";
/** Where the test puts a password for the server's shell to read (inside the container). */
const PW_FILE = "/root/.bf-test-pgpassword";

beforeAll(
  async () => {
    const t0 = Date.now();
    [e, server] = await Promise.all([startEngine(), bootDebian({ label: "pg-db", suite: "trixie" })]);
    timings.boot = server.bootMs;
    serverId = (await addToBrokeForge(e, server, { provisioning: { role: "database", database: "postgresql" } })).id;
    timings.added = Date.now() - t0;
    const t1 = Date.now();
    await until(() => e.db.provisioning.findUnique({ where: { serverId } }), "active", PROVISION_TIMEOUT_MS);
    timings.provisioning = Date.now() - t1;
    const { revealSecret } = await import("../../core/secrets");
    const stored = await revealSecret(serverId, SECRET);
    if (!stored) throw new Error(`BrokeForge stored no ${SECRET}`);
    password = stored;
  },
  PROVISION_TIMEOUT_MS + 5 * 60_000,
);

afterAll(async () => {
  console.log(`[debian provisioning database] timings (ms): ${JSON.stringify(timings)}`);
  await server?.stop();
  await e?.stop();
});

/** Puts `value` in PW_FILE inside the server, root-only, without it crossing SSH. */
function putPassword(value: string) {
  writeFileSync(path.join(server.rootDir, PW_FILE), value, { mode: 0o600 });
}

/** psql over TCP as postgres, with the password from PW_FILE in its environment. */
function psql(host: string, sql: string) {
  return server.exec(`PGPASSWORD=$(cat ${PW_FILE}) psql -X -w -h ${host} -U postgres -d postgres -tAc "${sql}"`);
}

const provisioningOperation = async () => {
  const row = await e.db.provisioning.findUniqueOrThrow({ where: { serverId } });
  return lastOperation(e, row.id);
};

/** Installed Debian packages on the server. */
async function installedDebs(): Promise<string[]> {
  const out = await server.sh("dpkg-query -W -f='${db:Status-Status} ${Package}\\n'");
  return out
    .split("\n")
    .filter((l) => l.startsWith("installed "))
    .map((l) => l.slice("installed ".length));
}

/** A Temporal history as text, its payloads decoded. */
async function historyText(workflowId: string, runId?: string) {
  const { temporalClient } = await import("../../temporal/client");
  const history = await (await temporalClient()).workflow.getHandle(workflowId, runId).fetchHistory();
  const text = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("utf8") : v));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  return { text, previousRun: started?.continuedExecutionRunId || undefined };
}

describe("provisioning role database (PostgreSQL) on a real Debian 13 server", () => {
  it("recorded the server's facts: Debian 13 (trixie), supported", async () => {
    const s = await e.api.servers.byId({ id: serverId });
    expect(s).toMatchObject({ osId: "debian", osRelease: "13", osCodename: "trixie", connectionStatus: "connected" });
    expect(s.osName).toBe("Debian GNU/Linux");
    expect(s.provisioning).toMatchObject({ role: "database", database: "postgresql", phpVersion: null, status: "active", errorLog: null });
  });

  it("ran as one operation of the role's milestones: base, site user, firewall (no web ports), PostgreSQL", async () => {
    const op = await provisioningOperation();
    expect(op).toMatchObject({ state: "succeeded", action: "install", errorLog: null });
    expect(op.milestones.map((m) => m.name)).toEqual([
      "base_tools",
      "base_timezone",
      "base_swap",
      "base_security_updates",
      "base_fail2ban",
      "site_user_account",
      "site_user_ssh",
      "site_user_sudoers",
      "site_user_deploy_key",
      "install_ufw",
      "enable_ufw",
      "postgresql_install",
      "postgresql_configure",
    ]);
    expect(op.milestones.every((m) => m.state === "succeeded")).toBe(true);
    for (const m of op.milestones) timings[m.name] = (m.finishedAt?.getTime() ?? NaN) - m.startedAt.getTime();
  });

  it("has exactly the role's packages active in the inventory, at the versions dpkg reports; no web stack on the server", async () => {
    const list = await e.api.packages.list({ serverId });
    expect(list.map((p) => p.type).sort()).toEqual(["base", "firewall", "postgresql", "site_user"]);
    expect(list.every((p) => p.status === "active")).toBe(true);
    const byType = Object.fromEntries(list.map((p) => [p.type, p]));
    // Each package's version is its main Debian package's (site_user is an account: none).
    const debOf: Record<string, string> = { base: "fail2ban", firewall: "ufw", postgresql: "postgresql" };
    for (const [type, deb] of Object.entries(debOf)) {
      const version = (await server.sh(`dpkg-query -W -f='\${Version}' ${deb}`)).trim();
      expect(version, `${type} (${deb})`).not.toBe("");
      expect(byType[type]!.version, `${type} (${deb})`).toBe(version);
    }
    expect(byType.site_user!.version).toBeNull();
    expect((await server.sh("getent passwd brokeforge")).trim()).toMatch(/^brokeforge:x:\d+:\d+::\/home\/brokeforge:\/bin\/bash$/);
    // The stored secrets are PostgreSQL's only (a database role has no Redis); the list names, never shows, it.
    expect(byType.postgresql!.secrets).toEqual([SECRET]);
    const { secretNamesOf } = await import("../../core/secrets");
    expect(await secretNamesOf(serverId)).toEqual([SECRET]);

    const debs = await installedDebs();
    expect(debs).toEqual(expect.arrayContaining(["postgresql", "fail2ban", "ufw", "unattended-upgrades"]));
    expect(debs.filter((d) => /^(nginx|php|redis|mariadb|mysql|composer|nodejs|npm$|supervisor)/.test(d))).toEqual([]);
  });

  it("runs PostgreSQL on the loopback only: 127.0.0.1 and ::1, nothing on the server's own address", async () => {
    const row = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "postgresql" } });
    const configuration = row.configuration as { major?: string; listenAddresses?: string };
    expect(configuration).toMatchObject({ listenAddresses: "localhost", major: expect.stringMatching(/^\d+$/) });
    expect((await server.sh(`systemctl is-active postgresql@${configuration.major}-main`)).trim()).toBe("active");

    const listening = (await server.sh("ss -Hltn 'sport = :5432'"))
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => l.trim().split(/\s+/)[3]);
    expect(listening).toContain("127.0.0.1:5432");
    expect(listening.filter((a) => a !== "127.0.0.1:5432" && a !== "[::1]:5432")).toEqual([]);

    // The container's own address: nothing answers there (refused, not filtered: ufw lets the
    // server's traffic to itself through).
    const ownIp = (await server.sh("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")).trim();
    expect(ownIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    putPassword(password);
    const outside = await psql(ownIp, "SELECT 1");
    expect(outside.exitCode).not.toBe(0);
    expect(outside.stderr).toMatch(/Connection refused/);
  });

  it("psql logs in over TCP on 127.0.0.1 as the superuser with the stored password; a wrong one is refused", async () => {
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    putPassword(password);
    const ok = await psql(
      "127.0.0.1",
      "SELECT current_user, inet_server_addr(), (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
    );
    expect(ok.stderr).toBe("");
    expect(ok.stdout.trim()).toBe("postgres|127.0.0.1|t");

    putPassword(randomBytes(24).toString("base64url"));
    const wrong = await psql("127.0.0.1", "SELECT 1");
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/password authentication failed for user "postgres"/);
    expect(wrong.stdout).toBe("");
  });

  it("ufw is active with only the SSH port open (a database server gets no 80/443)", async () => {
    const verbose = await server.sh("ufw status verbose");
    expect(verbose).toContain("Status: active");
    expect(verbose).toContain("Default: deny (incoming), allow (outgoing)");
    const rules = (await server.sh("ufw status"))
      .split("\n")
      .filter((l) => /\s(ALLOW|DENY|REJECT|LIMIT)( IN| OUT)?\s/.test(l))
      .map((l) => l.replace(/\s+/g, " ").trim());
    expect(rules).toEqual([
      `${server.sshPort}/tcp ALLOW Anywhere # brokeforge-ssh`,
      `${server.sshPort}/tcp (v6) ALLOW Anywhere (v6) # brokeforge-ssh`,
    ]);
    const rows = await e.db.firewallRule.findMany({ where: { serverId } });
    expect(rows.map((r) => [r.id, r.port, r.status])).toEqual([[`ssh-${serverId}`, String(server.sshPort), "active"]]);
  });

  it("the password is nowhere in what BrokeForge recorded, in Temporal's histories, or in the server's logs", async () => {
    const op = await provisioningOperation();
    // The output was recorded (so the search below looks at something): the password step's own words.
    const configure = op.milestones.find((m) => m.name === "postgresql_configure")!;
    expect(configure.outputTail).toMatch(/postgres password set/);
    expect(JSON.stringify(op)).not.toContain(password);
    const rows = [
      await e.db.provisioning.findUniqueOrThrow({ where: { serverId } }),
      ...(await e.db.serverPackage.findMany({ where: { serverId } })),
      ...(await e.db.operation.findMany({ where: { serverId } })),
    ];
    expect(JSON.stringify(rows)).not.toContain(password);

    // The provisioning's workflow, and every run of the server's queue (it continues as new).
    const op_ = await historyText(op.workflowId!);
    expect(op_.text).toContain(op.id); // read, payloads decoded
    expect(op_.text).not.toContain(password);
    let run: string | undefined;
    let runs = 0;
    do {
      const h = await historyText(`server-${serverId}`, run);
      expect(h.text).toContain(serverId);
      expect(h.text).not.toContain(password);
      run = h.previousRun;
      runs++;
    } while (run && runs < 20);

    // PostgreSQL's own log (statement logging is off while the password is set) and the journal.
    putPassword(password);
    expect(await server.sh("ls /var/log/postgresql")).toMatch(/postgresql-\d+-main\.log/);
    const found = await server.exec(
      `grep -rlF -f ${PW_FILE} /var/log/postgresql /var/log/apt /etc/postgresql; journalctl --no-pager -o cat | grep -cF -f ${PW_FILE}`,
    );
    expect(found.stdout.trim()).toBe("0");
  });

  it("removing the postgresql package purges PostgreSQL and its databases", async () => {
    const major = (await server.sh("dpkg-query -W -f='${Depends}' postgresql | grep -o 'postgresql-[0-9]*' | head -n1")).trim();
    expect(major).toMatch(/^postgresql-\d+$/);
    putPassword(password);
    expect((await psql("127.0.0.1", "CREATE DATABASE probe")).exitCode).toBe(0);
    const row = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "postgresql" } });
    const listed = (await e.api.packages.list({ serverId })).find((p) => p.id === row.id)!;
    expect(listed.requiredBy).toEqual([]);
    expect(listed.removal?.map((m) => m.label)).toEqual(["Removing PostgreSQL and its databases"]);

    const t = Date.now();
    await e.api.packages.remove({ id: row.id });
    await until(() => e.db.serverPackage.findUnique({ where: { id: row.id } }), "deleted");
    timings.remove = Date.now() - t;
    const v = major.slice("postgresql-".length);
    const left = (await installedDebs()).filter((d) => d.startsWith("postgresql"));
    for (const gone of ["postgresql", major, `postgresql-client-${v}`, "postgresql-common", "postgresql-client-common"]) {
      expect(left).not.toContain(gone);
    }
    // What is left of PostgreSQL's packages (trixie: postgresql-common-dev) was pulled in as a
    // dependency: apt marks it automatic, so `apt autoremove` would take it.
    const auto = (await server.sh("apt-mark showauto")).split("\n");
    expect(left.filter((d) => !auto.includes(d))).toEqual([]);
    expect((await server.exec("ss -Hltn 'sport = :5432'")).stdout.trim()).toBe("");
    expect((await server.exec(`test -e /var/lib/postgresql/${v}/main || test -e /etc/postgresql/${v}`)).exitCode).not.toBe(0);
    // The rest of the role stays.
    expect((await e.api.packages.list({ serverId })).map((p) => p.type).sort()).toEqual(["base", "firewall", "site_user"]);
    await server.sshTrue();
  });
});
