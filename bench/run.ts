// `npm run bench`: latency and throughput of the operation engine on real infrastructure
// (embedded Postgres, Temporal dev server, in-process worker with production defaults, the
// ssh2 test peer on 127.0.0.1). Prints every figure with its method; the LAST stdout line is
// one JSON object. Bounded: fixed counts, per-phase deadlines and a hard overall timeout
// (BENCH_TIMEOUT_MS, default 5 min) after which it cleans up and exits 1 with what it has.
// Exit 0 = measured (targets met or not: see "targets_met"); 1 = error or timeout.
// Diagnostics, off by default: BENCH_PROFILE=1 (V8 profile of the 100-server run),
// BENCH_TEMPORAL_DYNAMIC_CONFIG="key=value,…" (what-if: dev server with dynamic config).
import os from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Context } from "@temporalio/activity";
import pg from "pg";
import { maxOverlap, type ExecRecord } from "../tests/fixtures/ssh-peer";
import { startEngine, startInfra, type BenchEngine, type Infra } from "./harness";
import { operationHistory, queueHistory, type ActivitySpan, type OperationHistory, type WorkflowTaskSpan } from "./history";
import { cpuReport, cpuSnapshot, perUnit } from "./cpu";
import { startProfile } from "./profile";
import { fmt, median, percentile, round, summary } from "./stats";
import { measureLive } from "./live";
import { gate } from "../tests/setup/engine";

const HARD_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 300_000);
const HANDOFF_OPS = 41; // → 40 handoffs
const RAW_EXECS = 40;
const PAR_SERVERS = 100;
const PAR_OPS = 5;
const PEER_DELAY_MS = 50;
const BASELINE_REPS = 3;

const t0 = Date.now();
const results: Record<string, unknown> = {};
const log = (line = "") => console.log(line);
const section = (title: string) => log(`\n== ${title} (t+${((Date.now() - t0) / 1000).toFixed(1)} s)`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let infra: Infra | undefined;
let engine: BenchEngine | undefined;
let poller: pg.Client | undefined;
let finishing = false;

// --- query accounting: every pg query of this process except the bench's own clients ---------
const own = new WeakSet<object>();
const queries = { on: false, count: 0, ms: 0, byKind: new Map<string, number>(), byActivity: new Map<string, { n: number; ms: number }>() };
/** The activity type a query was issued from (the SDK's AsyncLocalStorage); tRPC and the rest otherwise. */
function activityName(): string {
  try {
    return Context.current().info.activityType;
  } catch {
    return "outside activities";
  }
}
{
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: object, ...args: unknown[]) {
    if (!queries.on || own.has(this)) return original.apply(this, args);
    const cfg = args[0] as string | { text?: string };
    const text = (typeof cfg === "string" ? cfg : cfg?.text ?? "").trimStart();
    const kind = /^\w+/.exec(text)?.[0]?.toUpperCase() ?? "?";
    const activity = activityName();
    const started = performance.now();
    const done = () => {
      const ms = performance.now() - started;
      queries.count++;
      queries.ms += ms;
      queries.byKind.set(kind, (queries.byKind.get(kind) ?? 0) + 1);
      const a = queries.byActivity.get(activity) ?? { n: 0, ms: 0 };
      queries.byActivity.set(activity, { n: a.n + 1, ms: a.ms + ms });
    };
    const cb = args.length && typeof args[args.length - 1] === "function" ? args.length - 1 : -1;
    if (cb >= 0) {
      const inner = args[cb] as (...a: unknown[]) => void;
      args[cb] = (...a: unknown[]) => (done(), inner(...a));
      return original.apply(this, args);
    }
    const r = original.apply(this, args) as Promise<unknown> | undefined;
    r?.then?.(done, done);
    return r;
  };
}

// Peer exec timestamps are performance.timeOrigin + now(); Temporal's event times are the wall
// clock. Convert with the offset measured at the time of use (the two can drift apart).
const wallOffset = () => Date.now() - (performance.timeOrigin + performance.now());

async function main() {
  section("infrastructure");
  log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")} (other processes share these cores)`);
  let t = Date.now();
  const dynamicConfig = (process.env.BENCH_TEMPORAL_DYNAMIC_CONFIG ?? "").split(/[\s,]+/).filter(Boolean);
  if (dynamicConfig.length) {
    log(`WHAT-IF RUN: Temporal dev server with --dynamic-config-value ${dynamicConfig.join(" ")} (BENCH_TEMPORAL_DYNAMIC_CONFIG)`);
    results.temporal_dynamic_config = dynamicConfig;
  }
  infra = await startInfra({ temporalDynamicConfig: dynamicConfig });
  log(`Postgres (embedded) + Temporal dev server + migrated template up in ${Date.now() - t} ms`);
  t = Date.now();
  engine = await startEngine(infra);
  log(`engine (cloned DB, in-process worker with production options, ssh2 test peer) up in ${Date.now() - t} ms`);
  const e = engine;
  poller = new pg.Client({ connectionString: e.databaseUrl });
  own.add(poller);
  await poller.connect();

  await baselines(e);
  await temporalFloor(e);
  await warmup(e);
  await handoffAndOverhead(e);
  await parallel(e);
  section("live updates (web process as a child, production build)");
  Object.assign(results, await measureLive(infra, log));
  // Last, and only with time to spare: the required figures must not wait on it.
  const left = HARD_TIMEOUT_MS - (Date.now() - t0);
  if (left > 120_000) await temporalFloorParallel(e);
  else log(`\n(Temporal floor parallel probe skipped: only ${Math.round(left / 1000)} s of the time budget left)`);
}

/** Workflow task dispatch (scheduled→started) split by queue kind. */
function wftDispatchSplit(wfts: WorkflowTaskSpan[]): string {
  const d = (sticky: boolean) => wfts.filter((w) => w.sticky === sticky).map((w) => w.started - w.scheduled).filter(Number.isFinite);
  const st = d(true);
  const no = d(false);
  return `sticky queue ${st.length}× p50 ${round(median(st))} ms (p90 ${round(percentile(st, 90))}), normal queue ${no.length}× p50 ${round(median(no))} ms (p90 ${round(percentile(no, 90))})`;
}

/** Creates `count` firewall rules on `serverId`, one after the other; returns resourceId → enqueue time. */
async function enqueue(e: BenchEngine, serverId: string, count: number, offset = 0): Promise<Map<string, number>> {
  const sent = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const at = Date.now();
    const rule = await e.api.firewall.create({
      serverId, name: `bench-${offset + i}`, port: String(2000 + offset + i), protocol: "tcp", action: "allow", source: "",
    });
    sent.set(rule.id, at);
  }
  return sent;
}

interface OpRow { id: string; resourceId: string; state: string; finishedAt: number | null; startedAt: number | null }

/** Polls (own pg client, 20 ms) until every operation of these resources is terminal. */
async function waitTerminal(resourceIds: string[], timeoutMs: number, what: string): Promise<OpRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await poller!.query<OpRow>(
      `select id, "resourceId", state::text as state,
              extract(epoch from "finishedAt") * 1000 as "finishedAt",
              extract(epoch from "startedAt") * 1000 as "startedAt"
         from "Operation" where "resourceId" = any($1)`,
      [resourceIds],
    );
    const terminal = rows.filter((r) => r.state === "succeeded" || r.state === "failed" || r.state === "cancelled");
    if (rows.length === resourceIds.length && terminal.length === rows.length) {
      return rows.map((r) => ({ ...r, finishedAt: Number(r.finishedAt), startedAt: r.startedAt === null ? null : Number(r.startedAt) }));
    }
    if (Date.now() > deadline) throw new Error(`${what}: ${terminal.length}/${resourceIds.length} operations terminal after ${timeoutMs} ms`);
    await sleep(20);
  }
}

function assertAllSucceeded(rows: OpRow[], what: string) {
  const bad = rows.filter((r) => r.state !== "succeeded");
  if (bad.length) throw new Error(`${what}: ${bad.length} operations did not succeed (${bad.slice(0, 3).map((r) => r.state).join(", ")})`);
}

async function baselines(e: BenchEngine) {
  section("baselines");
  const rpc: number[] = [];
  for (let i = 0; i < 30; i++) {
    const s = performance.now();
    await e.temporal.workflowService.getSystemInfo({});
    rpc.push(performance.now() - s);
  }
  const sql: number[] = [];
  for (let i = 0; i < 50; i++) {
    const s = performance.now();
    await poller!.query("select 1");
    sql.push(performance.now() - s);
  }
  log(`Temporal dev server unary RPC (GetSystemInfo, 30×): ${fmt(summary(rpc.slice(5)))}`);
  log(`Postgres round trip (select 1 on an open connection, 50×): ${fmt(summary(sql.slice(5)))}`);
  results.temporal_rpc_p50_ms = round(median(rpc.slice(5)), 2);
  results.pg_roundtrip_p50_ms = round(median(sql.slice(5)), 2);
}

/** Runs `fn` with a worker for tests/bench/probe-workflows.ts on its own task queue (default options). */
async function withProbeWorker<T>(e: BenchEngine, fn: (taskQueue: string) => Promise<T>): Promise<T> {
  const { NativeConnection, Worker } = await import("@temporalio/worker");
  const taskQueue = `probe-${e.taskQueue}`;
  const connection = await NativeConnection.connect({ address: infra!.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL("./probe-workflows.ts", import.meta.url)),
      activities: { noop: async () => {}, hold: (ms: number) => sleep(ms) },
    });
    return await worker.runUntil(fn(taskQueue));
  } finally {
    await connection.close();
  }
}

/**
 * The same Temporal dev server and SDK with no BrokeForge code: trivial workflows on their own task
 * queue and worker. Shows what a workflow task, an activity and a child workflow cost here.
 */
async function temporalFloor(e: BenchEngine) {
  section("Temporal floor: latency (trivial workflows, separate worker, no BrokeForge code)");
  const id = `probe-${Date.now()}`;
  const N = 20;
  const C = 10;
  await withProbeWorker(e, async (taskQueue) => {
    await e.temporal.workflow.execute("probeActivities", { taskQueue, workflowId: `${id}-warm`, args: [3] });
    await e.temporal.workflow.execute("probeActivities", { taskQueue, workflowId: `${id}-a`, args: [N] });
    await e.temporal.workflow.execute("probeChildren", { taskQueue, workflowId: `${id}-c`, args: [C] });
  });
  const a = await operationHistory(e.temporal, `${id}-a`);
  const step = a.activities.slice(1).map((x, i) => x.scheduled - a.activities[i]!.scheduled);
  const wftDispatch = a.workflowTasks.map((w) => w.started - w.scheduled);
  const wftTotal = a.workflowTasks.map((w) => w.completed - w.scheduled);
  const c = await queueHistory(e.temporal, `${id}-c`);
  const childCycle = c.children.slice(1).map((x, i) => x.initiated - c.children[i]!.initiated);
  const childStart = c.children.map((x) => x.started - x.initiated);
  const restart = c.children.slice(1).map((x, i) => x.initiated - c.children[i]!.closed);
  log(`no-op activity loop: one step (activity + workflow task) ${fmt(summary(step))}`);
  log(`  workflow task scheduled→started ${fmt(summary(wftDispatch))}; scheduled→completed p50 ${round(median(wftTotal))} ms`);
  log(`  dispatch by queue: ${wftDispatchSplit(a.workflowTasks)}`);
  log(`child loop (child = 1 no-op activity): one child cycle ${fmt(summary(childCycle))}`);
  log(`  start initiated→child started p50 ${round(median(childStart))} ms; child closed→next start initiated (parent WFT) p50 ${round(median(restart))} ms`);
  const kids = [];
  for (const k of c.children) kids.push(await operationHistory(e.temporal, k.workflowId));
  log(`  workflow task dispatch, children: ${wftDispatchSplit(kids.flatMap((k) => k.workflowTasks))}; parent: ${wftDispatchSplit(c.workflowTasks)}`);
  const kidSticky = median(kids.flatMap((k) => k.workflowTasks).filter((w) => w.sticky).map((w) => w.started - w.scheduled));
  const loopSticky = median(a.workflowTasks.filter((w) => w.sticky).map((w) => w.started - w.scheduled));
  if (kidSticky > 15 && loopSticky < 5) {
    log(`  → with child workflows in play, workflow tasks wait ~${round(kidSticky, 0)} ms for the same sticky queue that answers in`);
    log(`    ${round(loopSticky)} ms in the plain activity loop, and child start/close steps take ~40-60 ms: that is the dev server's`);
    log(`    history transfer-queue reader, rate-limited by history.transferProcessorMaxPollRPS (default 20/s, one shard).`);
    log(`    Check: BENCH_TEMPORAL_DYNAMIC_CONFIG=history.transferProcessorMaxPollRPS=10000 npm run bench`);
  }
  Object.assign(results, {
    floor_activity_step_p50_ms: round(median(step)),
    floor_wft_dispatch_p50_ms: round(median(wftDispatch)),
    floor_child_cycle_p50_ms: round(median(childCycle)),
  });
}

/** The parallel test's shape with trivial workflows: what the dev server + SDK alone achieve here. */
async function temporalFloorParallel(e: BenchEngine) {
  section(`Temporal floor: parallelism (trivial engine-shaped queues, ${PAR_SERVERS}×${PAR_OPS} vs 1×${PAR_OPS})`);
  const id = `probeq-${Date.now()}`;
  const one: number[] = [];
  let many = NaN;
  let cpu: ReturnType<typeof cpuReport> | undefined;
  await withProbeWorker(e, async (taskQueue) => {
    const queues = async (count: number, tag: string) => {
      const start = Date.now();
      await Promise.all(Array.from({ length: count }, (_, i) =>
        e.temporal.workflow.execute("probeQueue", { taskQueue, workflowId: `${id}-${tag}-${i}`, args: [PAR_OPS, PEER_DELAY_MS] })));
      return Date.now() - start;
    };
    for (let r = 0; r < BASELINE_REPS; r++) one.push(await queues(1, `one${r}`));
    const c0 = cpuSnapshot();
    many = await queues(PAR_SERVERS, "many");
    cpu = cpuReport(c0, cpuSnapshot());
  });
  const floorRatio = many / median(one);
  log(`each queue runs ${PAR_OPS} children in sequence; child = no-op activity, activity holding ${PEER_DELAY_MS} ms, no-op activity`);
  log(`(started via the client; no DB, no SSH, no tRPC):`);
  log(`  1 queue × ${PAR_OPS}: ${one.join(", ")} ms; ${PAR_SERVERS} queues × ${PAR_OPS}: ${many} ms → floor parallel ratio ${round(floorRatio, 2)}, ${round((PAR_SERVERS * PAR_OPS) / (many / 1000))} children/s`);
  log(`  CPU during the ${PAR_SERVERS}-queue run: ${cpu?.text}`);
  const per = cpu ? perUnit(cpu.ms, PAR_SERVERS * PAR_OPS, "child", "children") : undefined;
  if (per) log(`  CPU per child: ${per.text}`);
  Object.assign(results, {
    floor_parallel_ratio: round(floorRatio, 2),
    floor_children_per_sec: round((PAR_SERVERS * PAR_OPS) / (many / 1000)),
    floor_cpu_ms_per_child: per ? round(per.totalMs) : null,
  });
}

async function warmup(e: BenchEngine) {
  section("warm-up");
  e.peer.script(() => undefined);
  const s = await e.addServer("warmup");
  const t = Date.now();
  const sent = await enqueue(e, s.id, 3);
  assertAllSucceeded(await waitTerminal([...sent.keys()], 60_000, "warm-up"), "warm-up");
  log(`3 operations on a fresh server (workflow bundle, JIT, pools): ${Date.now() - t} ms (not counted)`);
}

async function handoffAndOverhead(e: BenchEngine) {
  section(`handoff and milestone overhead (${HANDOFF_OPS} queued single-milestone operations, one server)`);
  const server = await e.addServer("handoff");
  const sid = server.id;
  e.peer.script(() => undefined);
  // Two warm operations: the first connects and pins the host key, the second shows whether
  // the pooled connection survives the pin.
  const warm = await enqueue(e, sid, 2, 900);
  assertAllSucceeded(await waitTerminal([...warm.keys()], 30_000, "handoff warm-up"), "handoff warm-up");
  const connsAfterWarm = e.peer.connectionsFor(sid).length;
  log(`SSH connections opened for the server by its first 2 operations: ${connsAfterWarm} (1 expected with a reused pooled connection)`);
  results.ssh_connections_first_2_ops = connsAfterWarm;

  // Hold the first command until every operation is queued, so each handoff is op→op with no idle gap.
  const hold = gate();
  let held = false;
  e.peer.script(async (_cmd, ctx) => {
    if (ctx.serverKey === sid && !held) {
      held = true;
      await hold.opened;
    }
    return undefined;
  });
  const before = e.peer.execsFor(sid).length;
  const sent = await enqueue(e, sid, HANDOFF_OPS);
  queries.on = true;
  Object.assign(queries, { count: 0, ms: 0, byKind: new Map(), byActivity: new Map() });
  const cpu0 = cpuSnapshot();
  hold.open();
  const rows = await waitTerminal([...sent.keys()], 90_000, "handoff run");
  queries.on = false;
  const cpuHandoff = cpuReport(cpu0, cpuSnapshot());
  assertAllSucceeded(rows, "handoff run");
  const offset = wallOffset();
  const execs = e.peer.execsFor(sid).slice(before).map((x) => ({ ...x, startedAt: x.startedAt + offset, endedAt: (x.endedAt ?? NaN) + offset }));
  if (execs.length !== HANDOFF_OPS) throw new Error(`handoff run: expected ${HANDOFF_OPS} execs, peer saw ${execs.length} (retries?)`);
  const connsDuring = e.peer.connectionsFor(sid).length - connsAfterWarm;

  // Order operations by their exec (= queue order), and read their Temporal histories.
  const opsByResource = new Map(rows.map((r) => [r.resourceId, r]));
  const ordered = [...sent.keys()].map((rid) => opsByResource.get(rid)!);
  const histories: OperationHistory[] = [];
  for (const op of ordered) histories.push(await operationHistory(e.temporal, `server-${sid}/op-${op.id}`));
  const parent = await queueHistory(e.temporal, `server-${sid}`);
  const childOf = new Map(parent.children.map((c) => [c.workflowId, c]));
  const act = (h: OperationHistory, name: string): ActivitySpan => {
    const a = h.activities.filter((x) => x.name === name);
    if (a.length !== 1) throw new Error(`${h.workflowId}: ${a.length} ${name} activities`);
    return a[0]!;
  };

  // --- handoff ---
  const handoffs: number[] = [];
  const seg: Record<string, number[]> = {};
  const add = (k: string, v: number) => (seg[k] ??= []).push(v);
  for (let i = 0; i + 1 < execs.length; i++) {
    handoffs.push(execs[i + 1]!.startedAt - execs[i]!.endedAt);
    const prev = histories[i]!;
    const next = histories[i + 1]!;
    // beginOperation/completeOperation are local activities: they run inside workflow tasks.
    const pRun = act(prev, "runMilestone");
    const nRun = act(next, "runMilestone");
    const nChild = childOf.get(next.workflowId);
    add("a. exec end → runMilestone completed (milestone DB tx, activity completion RPC)", pRun.completed - execs[i]!.endedAt);
    add("b. → child workflow completed (child workflow task incl. local completeOperation)", prev.closed - pRun.completed);
    if (nChild) {
      add("e. → next child start initiated (queue workflow task)", nChild.initiated - prev.closed);
      add("f. → next child started (server starts child)", next.started - nChild.initiated);
    }
    add("g. → runMilestone scheduled (child's first workflow task incl. local beginOperation)", nRun.scheduled - next.started);
    add("j. → runMilestone started (matching → worker poll)", nRun.started - nRun.scheduled);
    add("k. → next exec starts on peer (2 DB writes, loadTarget read+decrypt, channel open)", execs[i + 1]!.startedAt - nRun.started);
  }
  const hs = summary(handoffs);
  log(`handoff_p50_ms = ${round(hs.p50)}  [${fmt(hs)}]`);
  log(`  method: one server, ${HANDOFF_OPS} single-milestone firewall-rule operations enqueued via tRPC while the first`);
  log(`  command is held on the peer; then released. handoff = next op's first exec startedAt − previous op's last exec`);
  log(`  endedAt, as recorded by the ssh2 peer (${handoffs.length} handoffs, peer delay 0).`);
  log(`  where the time goes (per handoff, median of each segment; Temporal history event times + peer times):`);
  let sumMed = 0;
  for (const [k, v] of Object.entries(seg)) {
    sumMed += median(v);
    log(`    ${k.padEnd(96)} ${String(round(median(v))).padStart(6)} ms  (p90 ${round(percentile(v, 90))})`);
  }
  log(`    ${"sum of segment medians".padEnd(96)} ${String(round(sumMed)).padStart(6)} ms`);
  const wftCount = histories.slice(1).map((h) => h.workflowTasks.length);
  const wftLat = histories.flatMap((h) => h.workflowTasks.map((w) => w.completed - w.scheduled)).filter(Number.isFinite);
  const wftStartLat = histories.flatMap((h) => h.workflowTasks.map((w) => w.started - w.scheduled)).filter(Number.isFinite);
  const actDispatch = histories.flatMap((h) => h.activities.map((a) => a.started - a.scheduled)).filter(Number.isFinite);
  log(`  workflow tasks per operation (child): ${median(wftCount)} + 1 on the queue workflow; workflow task scheduled→completed ${fmt(summary(wftLat))}`);
  log(`  of which scheduled→started (server→worker dispatch): p50 ${round(median(wftStartLat))} ms; activity scheduled→started: p50 ${round(median(actDispatch))} ms (eager activities)`);
  log(`  workflow task dispatch by queue, operation workflows: ${wftDispatchSplit(histories.slice(1).flatMap((h) => h.workflowTasks))}`);
  log(`  workflow task dispatch by queue, server queue workflow: ${wftDispatchSplit(parent.workflowTasks)}`);
  log(`  CPU during the run: ${cpuHandoff.text}`);
  const perOp = queries.count / HANDOFF_OPS;
  log(`  DB: ${round(perOp)} queries per operation (incl. BEGIN/COMMIT), ${round(queries.ms / HANDOFF_OPS)} ms of query round trips per operation; by kind: ${[...queries.byKind].map(([k, v]) => `${k} ${round(v / HANDOFF_OPS)}`).join(", ")}`);
  log(`  DB by activity (per operation): ${[...queries.byActivity].map(([k, v]) => `${k} ${round(v.n / HANDOFF_OPS)} queries / ${round(v.ms / HANDOFF_OPS)} ms`).join("; ")}`);
  log(`  SSH connections opened during the run: ${connsDuring}`);
  Object.assign(results, {
    handoff_p50_ms: round(hs.p50),
    handoff_p90_ms: round(hs.p90),
    handoff_max_ms: round(hs.max),
    handoff_n: hs.n,
    handoff_segments_p50_ms: Object.fromEntries(Object.entries(seg).map(([k, v]) => [k.slice(0, 1), round(median(v))])),
    workflow_task_p50_ms: round(median(wftLat)),
    db_queries_per_op: round(perOp),
    db_query_ms_per_op: round(queries.ms / HANDOFF_OPS),
  });

  // --- milestone overhead: engine span of runMilestone − raw ssh2 exec of the same script ---
  const { connect } = await import("../activities/ssh/client");
  const { script } = await import("../activities/ssh/shell");
  const { loadTarget } = await import("../activities/targets");
  const milestone = (act(histories[1]!, "runMilestone").input as { milestone: { steps: { label: string; argv: string[] }[] } }).milestone;
  const target = await loadTarget(sid);
  const connectTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const c = await connect(target, { readyTimeoutMs: 10_000 });
    connectTimes.push(performance.now() - s);
    c.close();
  }
  const conn = await connect(target, { readyTimeoutMs: 10_000 });
  const raw: number[] = [];
  try {
    for (let i = 0; i < RAW_EXECS + 5; i++) {
      const rendered = script(milestone.steps);
      const s = performance.now();
      const r = await conn.exec(rendered.command, { timeoutMs: 600_000, maxOutputBytes: 256 * 1024 });
      const d = performance.now() - s;
      if (r.exitCode !== 0) throw new Error(`raw exec exited ${r.exitCode}`);
      if (i >= 5) raw.push(d);
    }
  } finally {
    conn.close();
  }
  const rawMed = median(raw);
  const measured = histories.slice(1); // the first op's command was held by the gate
  const spans = measured.map((h) => {
    const a = act(h, "runMilestone");
    return a.completed - a.scheduled;
  });
  const overheads = spans.map((s) => s - rawMed);
  const os = summary(overheads);
  const ownExec = measured.map((h, k) => {
    const a = act(h, "runMilestone");
    const x = execs[k + 1]!;
    return { dispatch: a.started - a.scheduled, pre: x.startedAt - a.started, exec: x.endedAt - x.startedAt, post: a.completed - x.endedAt };
  });
  log("");
  log(`milestone_overhead_ms = ${round(os.p50)}  [${fmt(os)}]`);
  log(`  method: per milestone, the engine span = runMilestone ActivityTaskScheduled → ActivityTaskCompleted (event times`);
  log(`  in the child workflow's Temporal history), over the ${measured.length} operations above (the held first one excluded);`);
  log(`  minus the median raw exec: ssh2 connect() (activities/ssh/client.ts) once with the server's own key/target, then`);
  log(`  conn.exec() of the same script() rendering of the same milestone, ${RAW_EXECS}× on the open connection (5 warm-up execs dropped).`);
  log(`  engine span ${fmt(summary(spans))}`);
  log(`  raw exec    ${fmt(summary(raw))}`);
  log(`  (for scale: a new ssh2 connection to the peer, handshake + auth, takes ${fmt(summary(connectTimes))})`);
  log(`  span breakdown (p50): dispatch (scheduled→started) ${round(median(ownExec.map((o) => o.dispatch)))} ms, ` +
    `started→exec start (DB upsert+update, loadTarget, channel open) ${round(median(ownExec.map((o) => o.pre)))} ms, ` +
    `exec on peer ${round(median(ownExec.map((o) => o.exec)))} ms, exec end→completed (DB tx, completion RPC) ${round(median(ownExec.map((o) => o.post)))} ms`);
  Object.assign(results, {
    milestone_overhead_ms: round(os.p50),
    milestone_overhead_p90_ms: round(os.p90),
    milestone_span_p50_ms: round(median(spans)),
    raw_exec_p50_ms: round(rawMed),
    ssh_connect_p50_ms: round(median(connectTimes)),
  });
}

async function parallel(e: BenchEngine) {
  section(`parallelism (peer delay ${PEER_DELAY_MS} ms per command)`);
  e.peer.script(() => ({ delayMs: PEER_DELAY_MS }));

  const run = async (servers: { id: string }[], label: string, timeoutMs: number) => {
    const start = Date.now();
    const sentAll = new Map<string, number>();
    let enqueuedAt = 0;
    await Promise.all(servers.map(async (s) => {
      for (const [k, v] of await enqueue(e, s.id, PAR_OPS)) sentAll.set(k, v);
    })).then(() => (enqueuedAt = Date.now()));
    const rows = await waitTerminal([...sentAll.keys()], timeoutMs, label);
    assertAllSucceeded(rows, label);
    const end = Math.max(...rows.map((r) => r.finishedAt!));
    const lat = rows.map((r) => r.finishedAt! - sentAll.get(r.resourceId)!);
    return { wall: end - start, enqueue: enqueuedAt - start, lat, count: rows.length };
  };

  // 1 server × 5: fresh servers (cold SSH pool, like the 100), a few repetitions, median.
  const singles: Awaited<ReturnType<typeof run>>[] = [];
  for (let r = 0; r < BASELINE_REPS; r++) singles.push(await run([await e.addServer(`single-${r}`)], "1×5", 30_000));
  const w1 = median(singles.map((s) => s.wall));
  log(`1 server × ${PAR_OPS} ops wall: ${singles.map((s) => s.wall).join(", ")} ms → median ${w1} ms ` +
    `(floor ${PAR_OPS}×${PEER_DELAY_MS} = ${PAR_OPS * PEER_DELAY_MS} ms of command time); op latency p50 ${round(median(singles.flatMap((s) => s.lat)))} ms`);

  const servers: { id: string }[] = [];
  for (let i = 0; i < PAR_SERVERS; i++) servers.push(await e.addServer(`par-${i}`));
  const execsBefore = e.peer.execs.length;
  const connsBefore = e.peer.connections.length;
  const stopProfile = process.env.BENCH_PROFILE ? await startProfile() : undefined;
  const cpu0 = cpuSnapshot();
  const many = await run(servers, `${PAR_SERVERS}×${PAR_OPS}`, 180_000);
  const cpu = cpuReport(cpu0, cpuSnapshot());
  if (stopProfile) log(`CPU profile of the ${PAR_SERVERS}×${PAR_OPS} run (BENCH_PROFILE): ${await stopProfile()}`);
  const execs: ExecRecord[] = e.peer.execs.slice(execsBefore);
  const lat = summary(many.lat);
  const ratio = many.wall / w1;
  const opsPerSec = many.count / (many.wall / 1000);
  log(`${PAR_SERVERS} servers × ${PAR_OPS} ops wall: ${many.wall} ms (all ${many.count} enqueued after ${many.enqueue} ms)`);
  log("");
  log(`parallel_ratio = ${round(ratio, 2)}  (${many.wall} ms / ${w1} ms)`);
  log(`  method: wall time from the first tRPC enqueue (api.firewall.create) to the latest Operation.finishedAt, all`);
  log(`  operations polled terminal in the DB (20 ms); ${PAR_SERVERS} fresh servers each get ${PAR_OPS} creates in sequence, servers`);
  log(`  concurrently, vs. the median of ${BASELINE_REPS} runs of 1 fresh server × ${PAR_OPS}. Every op is 1 milestone of 1 command; the peer`);
  log(`  holds each command ${PEER_DELAY_MS} ms. Web (tRPC), worker and peer share this one Node process and its Prisma pool.`);
  log(`  side: ${round(opsPerSec)} operations/s at ${PAR_SERVERS} servers; op latency (enqueue call → finishedAt) ${fmt(lat)}`);
  const per = perUnit(cpu.ms, many.count, "operation");
  log(`  CPU during the ${PAR_SERVERS}×${PAR_OPS} run: ${cpu.text}`);
  log(`  CPU per operation: ${per.text}`);
  log(`  side: peer saw ${execs.length} execs, max ${maxOverlap(execs)} concurrently; ${e.peer.connections.length - connsBefore} SSH connections opened`);
  Object.assign(results, {
    parallel_ratio: round(ratio, 2),
    wall_1x5_ms: w1,
    wall_100x5_ms: many.wall,
    enqueue_100x5_ms: many.enqueue,
    ops_per_sec_100_servers: round(opsPerSec),
    op_latency_p50_ms_100_servers: round(lat.p50),
    op_latency_p90_ms_100_servers: round(lat.p90),
    op_latency_p50_ms_1_server: round(median(singles.flatMap((s) => s.lat))),
    peer_max_concurrent_execs: maxOverlap(execs),
    cpu_cores_100x5: cpu.cores,
    cpu_ms_per_op_100x5: round(per.totalMs),
  });
}

async function cleanup() {
  const bounded = (p: Promise<unknown>, ms: number, what: string) =>
    Promise.race([p, sleep(ms).then(() => console.error(`[bench] ${what}: cleanup timed out after ${ms} ms`))]).catch((err) =>
      console.error(`[bench] ${what}: cleanup failed: ${err}`));
  await bounded(poller?.end() ?? Promise.resolve(), 5_000, "poller");
  await bounded(engine?.stop() ?? Promise.resolve(), 30_000, "engine");
  await bounded(infra?.stop() ?? Promise.resolve(), 30_000, "infrastructure");
}

function targets() {
  const met = (v: unknown, ok: (x: number) => boolean) => (typeof v === "number" ? ok(v) : null);
  return {
    handoff_p50_ms: met(results.handoff_p50_ms, (x) => x < 100),
    parallel_ratio: met(results.parallel_ratio, (x) => x <= 1.5),
    milestone_overhead_ms: met(results.milestone_overhead_ms, (x) => x < 15),
    invalidation_p99_ms: met(results.invalidation_p99_ms, (x) => x < 25),
    server_list_render_ms: met(results.server_list_render_ms, (x) => x < 100),
  };
}

async function finish(code: number, error?: unknown) {
  if (finishing) return;
  finishing = true;
  clearTimeout(hardTimer);
  if (error) console.error(`[bench] ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  await cleanup();
  const tm = targets();
  log("");
  log(`targets: handoff_p50 < 100 ms: ${tm.handoff_p50_ms}; parallel_ratio ≤ 1.5: ${tm.parallel_ratio}; milestone_overhead < 15 ms: ${tm.milestone_overhead_ms}; invalidation_p99 < 25 ms: ${tm.invalidation_p99_ms}; server_list_render < 100 ms: ${tm.server_list_render_ms}`);
  log(`load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  log(`total bench time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const json = JSON.stringify({
    ...results,
    targets_met: tm,
    ok: code === 0,
    ...(error ? { error: String(error instanceof Error ? error.message : error).split("\n")[0] } : {}),
  });
  process.stdout.write(`${json}\n`, () => process.exit(code));
}

const hardTimer = setTimeout(() => void finish(1, new Error(`hard timeout: ${HARD_TIMEOUT_MS} ms`)), HARD_TIMEOUT_MS);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => void finish(1, new Error(`received ${sig}`)));

main().then(() => finish(0), (err) => finish(1, err));
