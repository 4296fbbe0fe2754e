// The "Temporal floor": the same Temporal dev server and SDK with no BrokeForge code — trivial
// workflows (probe-workflows.ts) on their own task queue and worker, in the engine's shapes
// (local activities where the engine has local ones). It tells how much of the engine's figures
// is Temporal itself on this machine. Latency here; the parallel floor runs interleaved with the
// engine's parallel rounds (parallel.ts).
import { fileURLToPath } from "node:url";
import type { Bench } from "./harness";
import { operationHistory, queueHistory, wftDispatchSplit } from "./history";
import { sleep } from "./operations";
import { fmt, median, round, summary } from "./stats";

/** Latency: a loop of no-op activities, and a loop of child workflows of one no-op activity each. */
export async function temporalFloor({ engine: e, infra, report }: Bench): Promise<void> {
  const { log } = report;
  report.section("Temporal floor: latency (trivial workflows, separate worker, no BrokeForge code)");
  const id = `probe-${Date.now()}`;
  const N = 20;
  const C = 10;
  await withProbeWorker(infra.temporalAddress, e.taskQueue, async (taskQueue) => {
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
  log(`child loop (child = engine-shaped: local no-op, no-op activity, local no-op): one child cycle ${fmt(summary(childCycle))}`);
  log(
    `  start initiated→child started p50 ${round(median(childStart))} ms; child closed→next start initiated (parent WFT) p50 ${round(median(restart))} ms`,
  );
  const kids = [];
  for (const k of c.children) kids.push(await operationHistory(e.temporal, k.workflowId));
  log(
    `  workflow task dispatch, children: ${wftDispatchSplit(kids.flatMap((k) => k.workflowTasks))}; parent: ${wftDispatchSplit(c.workflowTasks)}`,
  );
  const kidSticky = median(
    kids
      .flatMap((k) => k.workflowTasks)
      .filter((w) => w.sticky)
      .map((w) => w.started - w.scheduled),
  );
  const loopSticky = median(a.workflowTasks.filter((w) => w.sticky).map((w) => w.started - w.scheduled));
  if (kidSticky > 15 && loopSticky < 5) {
    log(`  → with child workflows in play, workflow tasks wait ~${round(kidSticky, 0)} ms for the same sticky queue that answers in`);
    log(`    ${round(loopSticky)} ms in the plain activity loop, and child start/close steps take ~40-60 ms: that is the dev server's`);
    log(`    history transfer-queue reader, rate-limited by history.transferProcessorMaxPollRPS (default 20/s, one shard).`);
    log(`    Check: BENCH_TEMPORAL_DYNAMIC_CONFIG=history.transferProcessorMaxPollRPS=10000 npm run bench`);
  }
  report.record({
    floor_activity_step_p50_ms: round(median(step)),
    floor_wft_dispatch_p50_ms: round(median(wftDispatch)),
    floor_child_cycle_p50_ms: round(median(childCycle)),
  });
}

/**
 * Runs `fn` with a worker for probe-workflows.ts on its own task queue, with the engine
 * worker's options where they matter (temporal/worker-factory.ts: defaults otherwise).
 */
export async function withProbeWorker<T>(
  temporalAddress: string,
  engineTaskQueue: string,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const { NativeConnection, Worker } = await import("@temporalio/worker");
  const taskQueue = `probe-${engineTaskQueue}`;
  const connection = await NativeConnection.connect({ address: temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL("./probe-workflows.ts", import.meta.url)),
      activities: { noop: async () => {}, localNoop: async () => {}, hold: (ms: number) => sleep(ms) },
      maxHeartbeatThrottleInterval: "1 second",
    });
    return await worker.runUntil(fn(taskQueue));
  } finally {
    await connection.close();
  }
}
