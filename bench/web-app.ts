// The web process the live figures are measured against: server.ts as a child process (so the
// clients' own work is not charged to the server), production build, NODE_ENV=production, its
// own database cloned from the migrated template, and a signed-up user's session cookie.
//
// It runs from a SNAPSHOT of the working tree in a temp dir (node_modules symlinked): `build/`
// and `public/build/` are shared with every test run in this checkout (tests/setup/build.ts
// rebuilds them in test mode), and a rebuild under a running bench would swap the server's
// bundle or delete the browser's assets mid-measurement.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { databaseUrl } from "../scripts/infra/postgres";
import { freePort, waitFor } from "../scripts/infra/ports";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Top-level entries not copied: dependencies (symlinked), VCS, caches, build output, scratch. */
const SKIP = new Set(["node_modules", ".git", ".cache", ".data", ".tools", "build", "coverage", ".scratch"]);

export interface WebApp {
  base: string;
  port: number;
  /** "name=value" of the signed-up user's session cookie. */
  cookie: string;
  userId: string;
  /** The bench's own client on the web process's database. */
  db: pg.Client;
  /** How long the snapshot copy and the production build took. */
  buildMs: number;
  stop(): Promise<void>;
}

export async function startWebApp(infra: { pgAdminUrl: string; temporalAddress: string }): Promise<WebApp> {
  const t = Date.now();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bf-bench-app-"));
  const dbName = `bf_bench_live_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: infra.pgAdminUrl });
  let db: pg.Client | undefined;
  let web: ChildProcess | undefined;
  const stop = async () => {
    if (web && web.exitCode === null && web.signalCode === null) {
      web.kill("SIGTERM");
      await Promise.race([new Promise((r) => web!.once("exit", r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (web.exitCode === null && web.signalCode === null) web.kill("SIGKILL");
    }
    await db?.end().catch(() => {});
    await admin.query(`drop database if exists "${dbName}" with (force)`).catch(() => {});
    await admin.end().catch(() => {});
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await fs.cp(ROOT, dir, {
      recursive: true,
      filter: (src) => {
        const rel = path.relative(ROOT, src);
        const top = rel.split(path.sep)[0]!;
        return !SKIP.has(top) && rel !== path.join("public", "build");
      },
    });
    await fs.symlink(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    // Measure what production serves: a production build, run with NODE_ENV=production.
    await promisify(execFile)(process.execPath, [path.join(dir, "node_modules/@remix-run/dev/dist/cli.js"), "build"], {
      cwd: dir,
      env: { ...process.env, NODE_ENV: "production" },
      maxBuffer: 64 * 1024 * 1024,
    });
    const buildMs = Date.now() - t;

    await admin.connect();
    await admin.query(`create database "${dbName}" template brokeforge_template`);
    const url = databaseUrl(infra.pgAdminUrl, dbName);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    web = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        NODE_ENV: "production",
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: infra.temporalAddress,
        BROKEFORGE_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
        SESSION_SECRET: randomBytes(32).toString("base64url"),
        HOST: "127.0.0.1",
        PORT: String(port),
        PUBLIC_URL: base,
      },
    });
    // However the bench ends (an uncaught error included), the web process does not outlive it.
    const child = web;
    process.once("exit", () => child.exitCode === null && child.kill("SIGKILL"));
    const exited = () => (web!.exitCode !== null ? new Error(`web process exited with ${web!.exitCode}`) : undefined);
    await waitFor("web", () => fetch(`${base}/healthz`).then((r) => r.ok || Promise.reject(new Error(String(r.status)))), {
      timeoutMs: 60_000,
      abort: exited,
    });

    const signup = await fetch(`${base}/signup`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "bench@example.com", password: "bench password long" }),
    });
    const cookie = signup.headers.get("set-cookie")?.split(";")[0];
    if (!cookie) throw new Error(`signup gave no session cookie (${signup.status})`);
    const {
      rows: [user],
    } = await db.query<{ id: string }>(`select id from "User" where email = 'bench@example.com'`);
    return { base, port, cookie, userId: user!.id, db, buildMs, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
