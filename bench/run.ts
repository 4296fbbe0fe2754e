// `npm run bench`: latency and throughput of the operation engine on real infrastructure
// (embedded Postgres, Temporal dev server, in-process worker with production defaults, the
// ssh2 test peer on 127.0.0.1). Prints every figure with its method; the LAST stdout line is
// one JSON object (report.ts). Bounded: fixed counts, per-phase deadlines and a hard overall
// timeout (BENCH_TIMEOUT_MS, default 5 min) after which it cleans up and exits 1 with what it has.
// Exit 0 = measured (targets met or not: see "targets_met"); 1 = error or timeout.
// Diagnostics, off by default: BENCH_PROFILE=1 (V8 profile of the 100-server run),
// BENCH_TEMPORAL_DYNAMIC_CONFIG="key=value,…" (what-if: dev server with dynamic config).
//
// Phases, in order: baselines.ts, temporal-floor.ts (latency), the warm-up, handoff.ts,
// parallel.ts, live.ts (web process), and temporal-floor.ts (parallelism) if time is left.
import os from "node:os";
import pg from "pg";
import { baselines, warmup } from "./baselines";
import { handoffAndOverhead } from "./handoff";
import { startEngine, startInfra, type Bench, type BenchEngine, type Infra } from "./harness";
import { measureLive } from "./live";
import { sleep } from "./operations";
import { parallel } from "./parallel";
import { ignoreQueriesOf } from "./queries";
import { createReport, loadAverage } from "./report";
import { temporalFloor, temporalFloorParallel } from "./temporal-floor";

const HARD_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
/** The optional last phase runs only with this much of the time budget left. */
const FLOOR_PARALLEL_NEEDS_MS = 120_000;

const report = createReport();
const { log } = report;

// What cleanup() must stop, however far main() got.
let infra: Infra | undefined;
let engine: BenchEngine | undefined;
let poller: pg.Client | undefined;
let finishing = false;

async function main() {
  report.section("infrastructure");
  log(`machine: ${os.cpus().length} cores, load average ${loadAverage()} (other processes share these cores)`);
  let t = Date.now();
  const dynamicConfig = (process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG ?? "").split(/[\s,]+/).filter(Boolean);
  if (dynamicConfig.length) {
    log(`WHAT-IF RUN: Temporal dev server with --dynamic-config-value ${dynamicConfig.join(" ")} (BENCH_TEMPORAL_DYNAMIC_CONFIG)`);
    report.record({ temporal_dynamic_config: dynamicConfig });
  }
  infra = await startInfra({ temporalDynamicConfig: dynamicConfig });
  log(`Postgres (embedded) + Temporal dev server + migrated template up in ${Date.now() - t} ms`);
  t = Date.now();
  engine = await startEngine(infra);
  log(`engine (cloned DB, in-process worker with production options, ssh2 test peer) up in ${Date.now() - t} ms`);
  poller = new pg.Client({ connectionString: engine.databaseUrl });
  ignoreQueriesOf(poller);
  await poller.connect();
  const bench: Bench = { infra, engine, poller, report };

  await baselines(bench);
  await temporalFloor(bench);
  await warmup(bench);
  await handoffAndOverhead(bench);
  await parallel(bench);
  report.section("live updates (web process as a child, production build)");
  report.record({ ...(await measureLive(infra, log)) });
  // Last, and only with time to spare: the required figures must not wait on it.
  const left = HARD_TIMEOUT_MS - report.elapsedMs();
  if (left > FLOOR_PARALLEL_NEEDS_MS) await temporalFloorParallel(bench);
  else log(`\n(Temporal floor parallel probe skipped: only ${Math.round(left / 1000)} s of the time budget left)`);
}

async function cleanup() {
  const bounded = (p: Promise<unknown>, ms: number, what: string) =>
    Promise.race([p, sleep(ms).then(() => console.error(`[bench] ${what}: cleanup timed out after ${ms} ms`))]).catch((err) =>
      console.error(`[bench] ${what}: cleanup failed: ${err}`),
    );
  await bounded(poller?.end() ?? Promise.resolve(), 5_000, "poller");
  await bounded(engine?.stop() ?? Promise.resolve(), 30_000, "engine");
  await bounded(infra?.stop() ?? Promise.resolve(), 30_000, "infrastructure");
}

/** Once: cleans up, prints the report (always, with whatever was measured), exits with `code`. */
async function finish(code: number, error?: unknown) {
  if (finishing) return;
  finishing = true;
  clearTimeout(hardTimer);
  if (error) console.error(`[bench] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanup();
  await report.finish({ ok: code === 0, error });
  process.exit(code);
}

const hardTimer = setTimeout(() => void finish(1, new Error(`hard timeout: ${HARD_TIMEOUT_MS} ms`)), HARD_TIMEOUT_MS);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void finish(1, new Error(`received ${sig}`)));

main().then(
  () => finish(0),
  (err) => finish(1, err),
);
