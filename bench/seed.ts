// Realistic data for the live figures (one user, SEED.servers servers), in plain SQL on the web
// process's database. Per server: both SSH credentials, the three packages installed, 5
// firewall rules, 2 scheduled tasks, 1 supervisor program, SEED.historyPerServer finished
// operations over the last 30 days (1 in 10 failed) with their milestones and change events;
// and current work: 1 in 10 servers runs an operation (step 1 of 2), half of those have 3 more
// queued. Change-event triggers are off while seeding (session_replication_role = replica, the
// bench connects as the superuser): the rows are history, not 60k live NOTIFYs at the web
// process; the history's change events are inserted directly instead.
import type pg from "pg";

export const SEED = { servers: 1000, historyPerServer: 20, runningEvery: 10 } as const;

export interface Seeded {
  serverIds: string[];
  /** A server with an operation running, a history and resources: the page the browser watches. */
  busyServerId: string;
  busyServerName: string;
  counts: Record<string, number>;
}

export async function seed(db: pg.Client, userId: string): Promise<Seeded> {
  const { servers, historyPerServer, runningEvery } = SEED;
  await db.query("begin");
  try {
    await db.query("set local session_replication_role = replica");
    // Servers, newest first in the list (createdAt desc): web-1 is the newest.
    await db.query(
      `insert into "Server" (id, "userId", name, host, "sshPort", "sshUser", "hostKeyFingerprint", "hostKeyAlgorithm",
         "connectionStatus", "osName", "osVersion", kernel, "lastConnectedAt", "createdAt", "updatedAt")
       select 'bsrv' || n, $1, 'web-' || n, '10.0.' || (n / 250) || '.' || (n % 250), 22, 'root',
         'SHA256:' || md5(n::text), 'ssh-ed25519', 'connected', 'Debian GNU/Linux', '12', '6.1.0-26-amd64',
         now() - (n || ' minutes')::interval, now() - (n || ' hours')::interval, now()
       from generate_series(1, $2::int) n`,
      [userId, servers],
    );
    await db.query(
      `insert into "ServerCredential" (id, "serverId", kind, "publicKey", "privateKeyEncrypted")
       select 'bcred' || n || k, 'bsrv' || n, k::"CredentialKind",
         'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI' || md5(n::text || k) || ' brokeforge-' || k || '@web-' || n, 'bench-not-a-key'
       from generate_series(1, $1::int) n, unnest(array['root', 'brokeforge']) k`,
      [servers],
    );
    await db.query(
      `insert into "ServerPackage" (id, "serverId", type, name, version, status, "updatedAt")
       select 'bpkg' || n || p.type, 'bsrv' || n, p.type, p.name, p.version, 'active', now()
       from generate_series(1, $1::int) n,
         (values ('firewall', 'ufw', '0.36.2-1'), ('scheduler', 'cron', '3.0pl1-162'), ('supervisor', 'supervisor', '4.2.5-1')) p(type, name, version)`,
      [servers],
    );
    await db.query(
      `insert into "FirewallRule" (id, "serverId", name, port, protocol, action, source, status, "updatedAt")
       select 'bfw' || n || '-' || r.i, 'bsrv' || n, r.name, r.port, r.proto::"FirewallProtocol", r.act::"FirewallAction", r.src,
         (case when n % $2 = 0 and r.i = 5 then 'installing' else 'active' end)::"TaskStatus", now()
       from generate_series(1, $1::int) n,
         (values (1, 'ssh', '22', 'tcp', 'allow', null), (2, 'http', '80', 'tcp', 'allow', null), (3, 'https', '443', 'tcp', 'allow', null),
                 (4, 'mysql', '3306', 'tcp', 'allow', '10.0.0.0/8'), (5, 'admin', '8000:8100', 'tcp', 'deny', null)) r(i, name, port, proto, act, src)`,
      [servers, runningEvery],
    );
    await db.query(
      `insert into "ScheduledTask" (id, "serverId", name, command, "user", frequency, cron, status, "updatedAt")
       select 'btask' || n || '-' || t.i, 'bsrv' || n, t.name, t.cmd, 'root', t.freq, t.cron, 'active', now()
       from generate_series(1, $1::int) n,
         (values (1, 'backup', '/usr/local/bin/backup --all', 'daily', '0 3 * * *'),
                 (2, 'queue', 'php /srv/app/artisan schedule:run', 'every_minute', '* * * * *')) t(i, name, cmd, freq, cron)`,
      [servers],
    );
    await db.query(
      `insert into "SupervisorProgram" (id, "serverId", name, command, directory, "user", numprocs, status, "updatedAt")
       select 'bprog' || n, 'bsrv' || n, 'worker', 'php artisan queue:work', '/srv/app', 'www-data', 2, 'active', now()
       from generate_series(1, $1::int) n`,
      [servers],
    );
    // History: finished operations on the rules, spread over 30 days, newest last.
    await db.query(
      `insert into "Operation" (id, "serverId", "userId", kind, title, "resourceType", "resourceId", action, state,
         "milestoneStep", "milestoneTotal", "workflowId", "runId", "errorLog", "createdAt", "startedAt", "finishedAt")
       select 'bop' || n || '-' || h, 'bsrv' || n, $1, 'firewall_rule.install', 'Install firewall rule “http” (allow 80/tcp)',
         'firewall_rule', 'bfw' || n || '-2', 'install',
         (case when h % 10 = 0 then 'failed' else 'succeeded' end)::"OperationState", 1, 1,
         'server-bsrv' || n || '/op-bop' || n || '-' || h, md5(n::text || h),
         case when h % 10 = 0 then 'Adding the rule: "ufw allow" exited with 1: ERROR: Could not load logging rules' end,
         now() - ((30 * 24 * ($3 - h)) / $3 || ' hours')::interval,
         now() - ((30 * 24 * ($3 - h)) / $3 || ' hours')::interval + interval '150 milliseconds',
         now() - ((30 * 24 * ($3 - h)) / $3 || ' hours')::interval + interval '1400 milliseconds'
       from generate_series(1, $2::int) n, generate_series(1, $3::int) h`,
      [userId, servers, historyPerServer],
    );
    await db.query(
      `insert into "OperationMilestone" (id, "operationId", step, total, name, label, state, attempts, "exitCode", "outputTail", "startedAt", "finishedAt")
       select 'bms-' || o.id, o.id, 1, 1, 'add_rule', 'Adding the rule', case when o.state = 'failed' then 'failed' else 'succeeded' end, 1,
         case when o.state = 'failed' then 1 else 0 end, 'Rule added\nRule added (v6)\n', o."startedAt", o."finishedAt"
       from "Operation" o where o.id like 'bop%'`,
    );
    // Current work: running on 1 in `runningEvery` servers, 3 more queued on half of those.
    await db.query(
      `insert into "Operation" (id, "serverId", "userId", kind, title, "resourceType", "resourceId", action, state,
         "milestoneStep", "milestoneTotal", "workflowId", "createdAt", "startedAt")
       select 'brun' || n, 'bsrv' || n, $1, 'firewall_rule.install', 'Install firewall rule “admin” (deny 8000:8100/tcp)',
         'firewall_rule', 'bfw' || n || '-5', 'install', 'running', 1, 2, 'server-bsrv' || n || '/op-brun' || n,
         now() - interval '20 seconds', now() - interval '19 seconds'
       from generate_series(1, $2::int) n where n % $3 = 0`,
      [userId, servers, runningEvery],
    );
    await db.query(
      `insert into "OperationMilestone" (id, "operationId", step, total, name, label, state, attempts, "startedAt")
       select 'bms-' || o.id, o.id, 1, 2, 'add_rule', 'Adding the rule', 'running', 1, o."startedAt"
       from "Operation" o where o.id like 'brun%'`,
    );
    await db.query(
      `insert into "Operation" (id, "serverId", "userId", kind, title, "resourceType", "resourceId", action, state, "createdAt")
       select 'bq' || n || '-' || q, 'bsrv' || n, $1, 'firewall_rule.install', 'Install firewall rule “ssh” (allow 22/tcp)',
         'firewall_rule', 'bfw' || n || '-1', 'install', 'queued', now() - interval '10 seconds' + (q || ' seconds')::interval
       from generate_series(1, $2::int) n, generate_series(1, 3) q where n % ($3 * 2) = 0`,
      [userId, servers, runningEvery],
    );
    await db.query(
      `insert into "ChangeEvent" ("userId", "serverId", entity, "entityId", action, "createdAt")
       select $1, o."serverId", 'operation', o.id, 'update', coalesce(o."finishedAt", o."createdAt") from "Operation" o order by o."createdAt"`,
      [userId],
    );
    await db.query("commit");
  } catch (err) {
    await db.query("rollback");
    throw err;
  }
  await db.query("analyze");
  const counts: Record<string, number> = {};
  for (const table of [
    "Server",
    "ServerCredential",
    "ServerPackage",
    "FirewallRule",
    "ScheduledTask",
    "SupervisorProgram",
    "Operation",
    "OperationMilestone",
    "ChangeEvent",
  ]) {
    const { rows } = await db.query<{ n: string }>(`select count(*) as n from "${table}"`);
    counts[table] = Number(rows[0]!.n);
  }
  const { rows } = await db.query<{ n: string }>(`select count(*) as n from "Operation" where state in ('running', 'queued')`);
  counts.operationsRunningOrQueued = Number(rows[0]!.n);
  const busy = runningEvery * 2; // runs one, has 3 queued
  return {
    serverIds: Array.from({ length: servers }, (_, i) => `bsrv${i + 1}`),
    busyServerId: `bsrv${busy}`,
    busyServerName: `web-${busy}`,
    counts,
  };
}
