// handoff_p50_ms and milestone_overhead_ms, from one run: HANDOFF_OPS single-milestone
// operations queued on one server while its first command is held, then released.
//   handoff   = the next operation's command start − the previous one's command end (on the
//               server's side), split into segments with the operations' Temporal histories.
//   overhead  = the engine's span of a milestone (runMilestone scheduled → completed) − a raw
//               pooled ssh2 exec of the same wire command on the same server.
// Two phases:
//   handoffAndOverhead  firewall-rule operations on the ssh2 test peer (the figures' original
//                       method: handoff_p50_ms, milestone_overhead_ms, with the full breakdown);
//   handoffSideBySide   the same run with a harmless bench-note plan (bench-kind.ts) against the
//                       peer, a real OpenSSH sshd and a real Debian container (targets.ts):
//                       handoff_ms / milestone_overhead_by_target_ms { peer, sshd, debian }.
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { cpuReport, cpuSnapshot } from "./cpu";
import type { Bench, BenchEngine } from "./harness";
import { operationHistory, queueHistory, wftDispatchSplit, type ActivitySpan, type OperationHistory } from "./history";
import { assertAllSucceeded, enqueue, waitTerminal, type OpRow } from "./operations";
import { startCountingQueries, stopCountingQueries } from "./queries";
import { fmt, median, percentile, round, summary } from "./stats";
import { debianTarget, peerTarget, sshdTarget, type Target, type TargetName, type TargetOrReason } from "./targets";

const HANDOFF_OPS = 41; // → 40 handoffs
const RAW_EXECS = 30;
const RAW_WARMUP = 5;

/** How a run creates its operations: `count` resources on the server, in order; returns their ids. */
type Creator = (serverId: string, count: number, offset: number, textOfFirst?: string) => Promise<string[]>;

function firewallCreator(e: BenchEngine): Creator {
  return async (serverId, count, offset) => [...(await enqueue(e, serverId, count, offset)).keys()];
}

function noteCreator(e: BenchEngine, dir: string): Creator {
  return async (serverId, count, offset, textOfFirst) => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const text = i === 0 && textOfFirst ? textOfFirst : `note ${offset + i}`;
      const row = (await e.call("benchNotes.create", { serverId, name: `n-${offset + i}`, text, dir })) as { id: string };
      ids.push(row.id);
    }
    return ids;
  };
}

/** What the queued run leaves for the two figures: command times and Temporal histories, in queue order. */
interface QueuedRun {
  serverId: string;
  ops: OpRow[];
  execs: Array<{ startedAt: number; endedAt: number }>;
  histories: OperationHistory[];
  handoffs: number[];
  segments: Record<string, number[]>;
}

export async function handoffAndOverhead(bench: Bench): Promise<void> {
  const { engine: e, report } = bench;
  report.section(`handoff and milestone overhead (${HANDOFF_OPS} queued single-milestone firewall-rule operations, one peer server)`);
  const target = await peerTarget(e);
  try {
    const run = await queuedRun(bench, target, firewallCreator(e), { detail: true });
    const over = await milestoneOverhead(bench, target, run, { detail: true });
    report.record({ milestone_overhead_ms: over.overhead.p50, milestone_overhead_p90_ms: over.overhead.p90 });
  } finally {
    await target.stop();
  }
}

export async function handoffSideBySide(bench: Bench): Promise<void> {
  const { engine: e, report } = bench;
  const { log } = report;
  report.section(
    `handoff and milestone overhead side by side: peer, OpenSSH sshd, Debian container (${HANDOFF_OPS} bench-note operations each)`,
  );
  log(`plan: one milestone of 3 steps (clock stamp, atomic file write in the bench's dir, clock stamp): bench/bench-kind.ts.`);
  log(`handoff on a real server = next op's first clock stamp − previous op's last stamp (the script's own \`date +%s%N\`),`);
  log(`so it includes what the server does between scripts (sshd session, detached-run start, bash start); on the peer`);
  log(`it is exec record to exec record. Overhead = runMilestone span − raw exec of the same wire command (a detached`);
  log(`start-or-attach with a fresh run name) on a pooled ssh2 connection to the same server.`);
  const handoff: Partial<Record<TargetName, number | null>> = {};
  const handoffP90: Partial<Record<TargetName, number | null>> = {};
  const overhead: Partial<Record<TargetName, number | null>> = {};
  const span: Partial<Record<TargetName, number | null>> = {};
  const raw: Partial<Record<TargetName, number | null>> = {};
  const rawInChannel: Partial<Record<TargetName, number | null>> = {};
  const bare: Partial<Record<TargetName, number | null>> = {};
  const segments: Partial<Record<TargetName, Record<string, number | null>>> = {};
  const unmeasured: Partial<Record<TargetName, string>> = {};
  const makers: Array<[TargetName, () => Promise<TargetOrReason>]> = [
    ["peer", async () => ({ target: await peerTarget(e) })],
    ["sshd", () => sshdTarget(e)],
    ["debian", () => debianTarget(e, log)],
  ];
  for (const [name, make] of makers) {
    log("");
    let got: TargetOrReason;
    try {
      got = await make();
    } catch (err) {
      got = { reason: `setup failed: ${String(err instanceof Error ? err.message : err).split("\n")[0]}` };
    }
    if ("reason" in got) {
      log(`${name}: NOT MEASURED — ${got.reason}`);
      for (const m of [handoff, handoffP90, overhead, span, raw, rawInChannel, bare]) m[name] = null;
      unmeasured[name] = got.reason;
      continue;
    }
    const t = got.target;
    log(`${name}: ${t.what}`);
    const runNames: string[] = [];
    try {
      const run = await queuedRun(bench, t, noteCreator(e, t.dir), { detail: false });
      runNames.push(...run.ops.map((o) => `brokeforge-op-${o.id}-1-1`));
      const over = await milestoneOverhead(bench, t, run, { detail: false });
      runNames.push(...over.runNames);
      const hs = summary(run.handoffs);
      handoff[name] = round(hs.p50);
      handoffP90[name] = round(hs.p90);
      overhead[name] = over.overhead.p50;
      span[name] = over.span;
      raw[name] = over.raw;
      rawInChannel[name] = over.rawInChannel;
      bare[name] = over.bare;
      segments[name] = Object.fromEntries(Object.entries(run.segments).map(([k, v]) => [k.slice(0, 1), round(median(v))]));
    } catch (err) {
      const reason = `run failed: ${String(err instanceof Error ? err.message : err).split("\n")[0]}`;
      log(`${name}: ${reason}`);
      for (const m of [handoff, handoffP90, overhead, span, raw, rawInChannel, bare]) m[name] = null;
      unmeasured[name] = reason;
    } finally {
      await t.cleanup(runNames).catch((err) => log(`  (${name}: cleanup failed: ${err})`));
      await t.stop().catch((err) => log(`  (${name}: stop failed: ${err})`));
    }
  }
  log("");
  const row = (label: string, m: Partial<Record<TargetName, number | null>>) =>
    log(`  ${label.padEnd(44)} ${(["peer", "sshd", "debian"] as const).map((n) => String(m[n] ?? "null").padStart(9)).join(" ")}`);
  log(`  ${"(ms, p50 unless said)".padEnd(44)} ${["peer", "sshd", "debian"].map((n) => n.padStart(9)).join(" ")}`);
  row("handoff", handoff);
  row("handoff p90", handoffP90);
  row("milestone overhead", overhead);
  row("  runMilestone span", span);
  row("  raw exec, detached start-or-attach", raw);
  row("  raw exec, in-channel script (reference)", rawInChannel);
  row("  bare exec of `true` (server's floor)", bare);
  for (const [n, why] of Object.entries(unmeasured)) log(`  ${n}: null — ${why}`);
  report.record({
    handoff_ms: handoff,
    handoff_p90_by_target_ms: handoffP90,
    milestone_overhead_by_target_ms: overhead,
    milestone_span_by_target_ms: span,
    raw_exec_by_target_ms: raw,
    raw_exec_in_channel_by_target_ms: rawInChannel,
    bare_exec_by_target_ms: bare,
    handoff_segments_by_target_p50_ms: segments,
    ...(Object.keys(unmeasured).length ? { handoff_unmeasured: unmeasured } : {}),
  });
}

async function queuedRun(
  { engine: e, poller, report }: Bench,
  target: Target,
  create: Creator,
  opts: { detail: boolean },
): Promise<QueuedRun> {
  const { log } = report;
  const sid = target.serverId;
  // Two warm operations: the first connects (and, on the peer, pins the host key), the second
  // shows whether the pooled connection survives.
  const warmIds = await create(sid, 2, 900);
  assertAllSucceeded(await waitTerminal(poller, warmIds, 60_000, `${target.name} warm-up`), `${target.name} warm-up`);
  const connsAfterWarm = target.name === "peer" ? e.peer.connectionsFor(sid).length : 0;
  if (opts.detail) {
    log(`SSH connections opened for the server by its first 2 operations: ${connsAfterWarm} (1 expected with a reused pooled connection)`);
    report.record({ ssh_connections_first_2_ops: connsAfterWarm });
  }

  // Hold the first command until every operation is queued, so each handoff is op→op with no idle gap.
  const hold = await target.hold();
  const mark = target.mark();
  const ids = await create(sid, HANDOFF_OPS, 0, hold.textOfFirst);
  startCountingQueries();
  const cpu0 = cpuSnapshot();
  await hold.release();
  const rows = await waitTerminal(poller, ids, 120_000, `${target.name} handoff run`);
  const queries = stopCountingQueries();
  const cpuHandoff = cpuReport(cpu0, cpuSnapshot());
  assertAllSucceeded(rows, `${target.name} handoff run`);
  const execs = await target.commandTimes(ids, mark);
  const connsDuring = target.name === "peer" ? e.peer.connectionsFor(sid).length - connsAfterWarm : 0;

  // Order operations by resource (= queue order), and read their Temporal histories.
  const opsByResource = new Map(rows.map((r) => [r.resourceId, r]));
  const ordered = ids.map((rid) => opsByResource.get(rid)!);
  const histories: OperationHistory[] = [];
  for (const op of ordered) histories.push(await operationHistory(e.temporal, `server-${sid}/op-${op.id}`));
  const parent = await queueHistory(e.temporal, `server-${sid}`);
  const childOf = new Map(parent.children.map((c) => [c.workflowId, c]));

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
    add("a. command end → runMilestone completed (end of the exec, milestone DB tx, completion RPC)", pRun.completed - execs[i]!.endedAt);
    add("b. → child workflow completed (child workflow task incl. local completeOperation)", prev.closed - pRun.completed);
    if (nChild) {
      add("e. → next child start initiated (queue workflow task)", nChild.initiated - prev.closed);
      add("f. → next child started (server starts child)", next.started - nChild.initiated);
    }
    add("g. → runMilestone scheduled (child's first workflow task incl. local beginOperation)", nRun.scheduled - next.started);
    add("j. → runMilestone started (matching → worker poll)", nRun.started - nRun.scheduled);
    add(
      "k. → next command starts on the server (DB writes, loadTarget, channel open, server side start)",
      execs[i + 1]!.startedAt - nRun.started,
    );
  }
  const hs = summary(handoffs);
  const printSegments = () => {
    let sumMed = 0;
    for (const [k, v] of Object.entries(seg)) {
      sumMed += median(v);
      log(`    ${k.padEnd(100)} ${String(round(median(v))).padStart(6)} ms  (p90 ${round(percentile(v, 90))})`);
    }
    log(`    ${"sum of segment medians".padEnd(100)} ${String(round(sumMed)).padStart(6)} ms`);
  };
  if (!opts.detail) {
    log(`  handoff ${fmt(hs)}`);
    printSegments();
    log(`  CPU during the run: ${cpuHandoff.text}`);
    return { serverId: sid, ops: ordered, execs, histories, handoffs, segments: seg };
  }
  log(`handoff_p50_ms = ${round(hs.p50)}  [${fmt(hs)}]`);
  log(`  method: one server, ${HANDOFF_OPS} single-milestone firewall-rule operations enqueued via tRPC while the first`);
  log(`  command is held on the peer; then released. handoff = next op's first exec startedAt − previous op's last exec`);
  log(`  endedAt, as recorded by the ssh2 peer (${handoffs.length} handoffs, peer delay 0).`);
  log(`  where the time goes (per handoff, median of each segment; Temporal history event times + peer times):`);
  printSegments();
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
  return { serverId: sid, ops: ordered, execs, histories, handoffs, segments: seg };
}

/** Engine span of runMilestone − raw ssh2 exec of the same wire command, over the queued run's operations. */
async function milestoneOverhead({ report }: Bench, target: Target, { serverId, execs, histories }: QueuedRun, opts: { detail: boolean }) {
  const { log } = report;
  const { connect } = await import("../activities/ssh/client");
  const { script } = await import("../activities/ssh/shell");
  const { runName, startOrAttach } = await import("../activities/ssh/detached");
  const { loadTarget } = await import("../activities/targets");
  // The history carries only ids (plans are rebuilt inside activities): rebuild the same plan.
  const { operationId, step } = act(histories[1]!, "runMilestone").input as { operationId: string; step: number };
  const { loadOperation, planOf } = await import("../activities/plans");
  const loaded = await loadOperation(operationId);
  if (!loaded?.resource) throw new Error(`operation ${operationId} is gone`);
  const milestone = planOf({ ...loaded, resource: loaded.resource })[step - 1]!;
  const sshTarget = await loadTarget(serverId);
  const connectTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    const c = await connect(sshTarget, { readyTimeoutMs: 10_000 });
    connectTimes.push(performance.now() - s);
    c.close();
  }
  // What runMilestone sends: the script, started detached under a run name (a fresh one each
  // time, so each exec really starts a run), and for reference the plain in-channel script.
  const rawId = `benchraw${randomBytes(4).toString("hex")}`;
  const runNames: string[] = [];
  const conn = await connect(sshTarget, { readyTimeoutMs: 10_000 });
  const detached: number[] = [];
  const inChannel: number[] = [];
  const bare: number[] = [];
  try {
    // The server's floor for any exec: a channel, its session and login shell, `true`.
    for (let i = 0; i < 15; i++) {
      const s = performance.now();
      await conn.exec("true", { timeoutMs: 30_000, maxOutputBytes: 1024 });
      if (i >= RAW_WARMUP) bare.push(performance.now() - s);
    }
    for (let i = 0; i < RAW_EXECS + RAW_WARMUP; i++) {
      const rendered = script(milestone.steps);
      const name = runName({ operationId: rawId, step: 1, run: i + 1 });
      runNames.push(name);
      for (const [command, into] of [
        [startOrAttach({ name }, rendered.body), detached],
        [rendered.command, inChannel],
      ] as const) {
        const s = performance.now();
        const r = await conn.exec(command, { timeoutMs: 60_000, maxOutputBytes: 256 * 1024 });
        const d = performance.now() - s;
        if (r.exitCode !== 0) throw new Error(`raw exec exited ${r.exitCode}: ${r.stderr.slice(-300)}`);
        if (i >= RAW_WARMUP) into.push(d);
      }
    }
  } finally {
    conn.close();
  }
  const rawMed = median(detached);
  const measured = histories.slice(1); // the first op's command was held
  const spans = measured.map((h) => {
    const a = act(h, "runMilestone");
    return a.completed - a.scheduled;
  });
  const os = summary(spans.map((s) => s - rawMed));
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
  const breakdown =
    `dispatch (scheduled→started) ${round(median(ownExec.map((o) => o.dispatch)))} ms, ` +
    `started→command start ${round(median(ownExec.map((o) => o.pre)))} ms, ` +
    `command on the server ${round(median(ownExec.map((o) => o.exec)))} ms, command end→completed ${round(median(ownExec.map((o) => o.post)))} ms`;
  if (opts.detail) {
    log("");
    log(`milestone_overhead_ms = ${round(os.p50)}  [${fmt(os)}]`);
    log(`  method: per milestone, the engine span = runMilestone ActivityTaskScheduled → ActivityTaskCompleted (event times`);
    log(`  in the child workflow's Temporal history), over the ${measured.length} operations above (the held first one excluded);`);
    log(`  minus the median raw exec: ssh2 connect() (activities/ssh/client.ts) once with the server's own key/target, then`);
    log(`  conn.exec() of the wire command runMilestone sends for the same milestone (detached start-or-attach of the same`);
    log(`  script() body, a fresh run name each time), ${RAW_EXECS}× on the open connection (${RAW_WARMUP} warm-up execs dropped).`);
  } else {
    log(`  milestone overhead ${fmt(os)}`);
  }
  log(`  engine span ${fmt(summary(spans))}`);
  log(`  raw exec    ${fmt(summary(detached))} (detached start-or-attach, what the engine sends)`);
  log(`  raw exec    ${fmt(summary(inChannel))} (the same script in-channel, for reference)`);
  log(`  bare exec   ${fmt(summary(bare))} (\`true\`: channel + the login user's shell; the floor of any command there)`);
  log(`  (for scale: a new ssh2 connection to the server, handshake + auth, takes ${fmt(summary(connectTimes))})`);
  log(`  span breakdown (p50): ${breakdown}`);
  if (opts.detail) {
    report.record({
      milestone_span_p50_ms: round(median(spans)),
      raw_exec_p50_ms: round(rawMed),
      raw_exec_in_channel_p50_ms: round(median(inChannel)),
      ssh_connect_p50_ms: round(median(connectTimes)),
    });
  }
  return {
    overhead: { p50: round(os.p50), p90: round(os.p90) },
    span: round(median(spans)),
    raw: round(rawMed),
    rawInChannel: round(median(inChannel)),
    bare: round(median(bare)),
    runNames,
  };
}

/** The one activity `name` of an operation (single-milestone operations have exactly one). */
function act(h: OperationHistory, name: string): ActivitySpan {
  const a = h.activities.filter((x) => x.name === name);
  if (a.length !== 1) throw new Error(`${h.workflowId}: ${a.length} ${name} activities`);
  return a[0]!;
}
