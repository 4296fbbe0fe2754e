// handoff_p50_ms and milestone_overhead_ms, from one run: HANDOFF_OPS single-milestone
// operations queued on one server while its first command is held on the peer, then released.
//   handoff   = the next operation's first command start − the previous one's last command end
//               (peer times), split into segments with the operations' Temporal histories.
//   overhead  = the engine's span of a milestone (runMilestone scheduled → completed) − a raw
//               pooled ssh2 exec of the same script on the same server.
import { performance } from "node:perf_hooks";
import type { ExecRecord } from "../tests/fixtures/ssh-peer";
import { gate } from "../tests/setup/engine";
import { cpuReport, cpuSnapshot } from "./cpu";
import type { Bench } from "./harness";
import { operationHistory, queueHistory, wftDispatchSplit, type ActivitySpan, type OperationHistory } from "./history";
import { assertAllSucceeded, enqueue, waitTerminal } from "./operations";
import { startCountingQueries, stopCountingQueries } from "./queries";
import { fmt, median, percentile, round, summary } from "./stats";

const HANDOFF_OPS = 41; // → 40 handoffs
const RAW_EXECS = 40;

/** What the queued run leaves for the two figures: peer execs and Temporal histories, in queue order. */
interface QueuedRun {
  serverId: string;
  /** One per operation, times on the wall clock (comparable with Temporal's event times). */
  execs: Array<Omit<ExecRecord, "endedAt"> & { endedAt: number }>;
  histories: OperationHistory[];
  parent: Awaited<ReturnType<typeof queueHistory>>;
}

export async function handoffAndOverhead(bench: Bench): Promise<void> {
  bench.report.section(`handoff and milestone overhead (${HANDOFF_OPS} queued single-milestone operations, one server)`);
  const run = await queuedRun(bench);
  await milestoneOverhead(bench, run);
}

async function queuedRun({ engine: e, poller, report }: Bench): Promise<QueuedRun> {
  const { log } = report;
  const server = await e.addServer("handoff");
  const sid = server.id;
  e.peer.script(() => undefined);
  // Two warm operations: the first connects and pins the host key, the second shows whether
  // the pooled connection survives the pin.
  const warm = await enqueue(e, sid, 2, 900);
  assertAllSucceeded(await waitTerminal(poller, [...warm.keys()], 30_000, "handoff warm-up"), "handoff warm-up");
  const connsAfterWarm = e.peer.connectionsFor(sid).length;
  log(`SSH connections opened for the server by its first 2 operations: ${connsAfterWarm} (1 expected with a reused pooled connection)`);
  report.record({ ssh_connections_first_2_ops: connsAfterWarm });

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
  startCountingQueries();
  const cpu0 = cpuSnapshot();
  hold.open();
  const rows = await waitTerminal(poller, [...sent.keys()], 90_000, "handoff run");
  const queries = stopCountingQueries();
  const cpuHandoff = cpuReport(cpu0, cpuSnapshot());
  assertAllSucceeded(rows, "handoff run");
  const offset = wallOffset();
  const execs = e.peer
    .execsFor(sid)
    .slice(before)
    .map((x) => ({ ...x, startedAt: x.startedAt + offset, endedAt: (x.endedAt ?? NaN) + offset }));
  if (execs.length !== HANDOFF_OPS) throw new Error(`handoff run: expected ${HANDOFF_OPS} execs, peer saw ${execs.length} (retries?)`);
  const connsDuring = e.peer.connectionsFor(sid).length - connsAfterWarm;

  // Order operations by their exec (= queue order), and read their Temporal histories.
  const opsByResource = new Map(rows.map((r) => [r.resourceId, r]));
  const ordered = [...sent.keys()].map((rid) => opsByResource.get(rid)!);
  const histories: OperationHistory[] = [];
  for (const op of ordered) histories.push(await operationHistory(e.temporal, `server-${sid}/op-${op.id}`));
  const parent = await queueHistory(e.temporal, `server-${sid}`);
  const childOf = new Map(parent.children.map((c) => [c.workflowId, c]));

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
  log(
    `  workflow tasks per operation (child): ${median(wftCount)} + 1 on the queue workflow; workflow task scheduled→completed ${fmt(summary(wftLat))}`,
  );
  log(
    `  of which scheduled→started (server→worker dispatch): p50 ${round(median(wftStartLat))} ms; ` +
      `activity scheduled→started: p50 ${round(median(actDispatch))} ms (eager activities)`,
  );
  log(`  workflow task dispatch by queue, operation workflows: ${wftDispatchSplit(histories.slice(1).flatMap((h) => h.workflowTasks))}`);
  log(`  workflow task dispatch by queue, server queue workflow: ${wftDispatchSplit(parent.workflowTasks)}`);
  log(`  CPU during the run: ${cpuHandoff.text}`);
  const perOp = queries.count / HANDOFF_OPS;
  log(
    `  DB: ${round(perOp)} queries per operation (incl. BEGIN/COMMIT), ${round(queries.ms / HANDOFF_OPS)} ms of query round trips per operation; ` +
      `by kind: ${[...queries.byKind].map(([k, v]) => `${k} ${round(v / HANDOFF_OPS)}`).join(", ")}`,
  );
  log(
    `  DB by activity (per operation): ` +
      [...queries.byActivity].map(([k, v]) => `${k} ${round(v.n / HANDOFF_OPS)} queries / ${round(v.ms / HANDOFF_OPS)} ms`).join("; "),
  );
  log(`  SSH connections opened during the run: ${connsDuring}`);
  report.record({
    handoff_p50_ms: round(hs.p50),
    handoff_p90_ms: round(hs.p90),
    handoff_max_ms: round(hs.max),
    handoff_n: hs.n,
    handoff_segments_p50_ms: Object.fromEntries(Object.entries(seg).map(([k, v]) => [k.slice(0, 1), round(median(v))])),
    workflow_task_p50_ms: round(median(wftLat)),
    db_queries_per_op: round(perOp),
    db_query_ms_per_op: round(queries.ms / HANDOFF_OPS),
  });
  return { serverId: sid, execs, histories, parent };
}

/** Engine span of runMilestone − raw ssh2 exec of the same script, over the queued run's operations. */
async function milestoneOverhead({ report }: Bench, { serverId, execs, histories }: QueuedRun): Promise<void> {
  const { log } = report;
  const { connect } = await import("../activities/ssh/client");
  const { script } = await import("../activities/ssh/shell");
  const { loadTarget } = await import("../activities/targets");
  // The history carries only ids (plans are rebuilt inside activities): rebuild the same plan.
  const { operationId, step } = act(histories[1]!, "runMilestone").input as { operationId: string; step: number };
  const { loadOperation, planOf } = await import("../activities/plans");
  const loaded = await loadOperation(operationId);
  if (!loaded?.resource) throw new Error(`operation ${operationId} is gone`);
  const milestone = planOf({ ...loaded, resource: loaded.resource })[step - 1]!;
  const target = await loadTarget(serverId);
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
    return {
      dispatch: a.started - a.scheduled,
      pre: x.startedAt - a.started,
      exec: x.endedAt - x.startedAt,
      post: a.completed - x.endedAt,
    };
  });
  log("");
  log(`milestone_overhead_ms = ${round(os.p50)}  [${fmt(os)}]`);
  log(`  method: per milestone, the engine span = runMilestone ActivityTaskScheduled → ActivityTaskCompleted (event times`);
  log(`  in the child workflow's Temporal history), over the ${measured.length} operations above (the held first one excluded);`);
  log(`  minus the median raw exec: ssh2 connect() (activities/ssh/client.ts) once with the server's own key/target, then`);
  log(
    `  conn.exec() of the same script() rendering of the same milestone, ${RAW_EXECS}× on the open connection (5 warm-up execs dropped).`,
  );
  log(`  engine span ${fmt(summary(spans))}`);
  log(`  raw exec    ${fmt(summary(raw))}`);
  log(`  (for scale: a new ssh2 connection to the peer, handshake + auth, takes ${fmt(summary(connectTimes))})`);
  log(
    `  span breakdown (p50): dispatch (scheduled→started) ${round(median(ownExec.map((o) => o.dispatch)))} ms, ` +
      `started→exec start (DB upsert+update, loadTarget, channel open) ${round(median(ownExec.map((o) => o.pre)))} ms, ` +
      `exec on peer ${round(median(ownExec.map((o) => o.exec)))} ms, exec end→completed (DB tx, completion RPC) ${round(median(ownExec.map((o) => o.post)))} ms`,
  );
  report.record({
    milestone_overhead_ms: round(os.p50),
    milestone_overhead_p90_ms: round(os.p90),
    milestone_span_p50_ms: round(median(spans)),
    raw_exec_p50_ms: round(rawMed),
    ssh_connect_p50_ms: round(median(connectTimes)),
  });
}

/** The one activity `name` of an operation (single-milestone operations have exactly one). */
function act(h: OperationHistory, name: string): ActivitySpan {
  const a = h.activities.filter((x) => x.name === name);
  if (a.length !== 1) throw new Error(`${h.workflowId}: ${a.length} ${name} activities`);
  return a[0]!;
}

// Peer exec timestamps are performance.timeOrigin + now(); Temporal's event times are the wall
// clock. Convert with the offset measured at the time of use (the two can drift apart).
const wallOffset = () => Date.now() - (performance.timeOrigin + performance.now());
