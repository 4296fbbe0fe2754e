// Before measuring the engine: what one Temporal RPC and one Postgres round trip cost on this
// machine right now (the scale for every figure after), and a warm-up run that is not counted.
import { performance } from "node:perf_hooks";
import type { Bench } from "./harness";
import { assertAllSucceeded, enqueue, waitTerminal } from "./operations";
import { fmt, median, round, summary } from "./stats";

export async function baselines({ engine: e, poller, report }: Bench): Promise<void> {
  report.section("baselines");
  const rpc: number[] = [];
  for (let i = 0; i < 30; i++) {
    const s = performance.now();
    await e.temporal.workflowService.getSystemInfo({});
    rpc.push(performance.now() - s);
  }
  const sql: number[] = [];
  for (let i = 0; i < 50; i++) {
    const s = performance.now();
    await poller.query("select 1");
    sql.push(performance.now() - s);
  }
  // The first few of each are connection setup and JIT: dropped.
  report.log(`Temporal dev server unary RPC (GetSystemInfo, 30×): ${fmt(summary(rpc.slice(5)))}`);
  report.log(`Postgres round trip (select 1 on an open connection, 50×): ${fmt(summary(sql.slice(5)))}`);
  report.record({
    temporal_rpc_p50_ms: round(median(rpc.slice(5)), 2),
    pg_roundtrip_p50_ms: round(median(sql.slice(5)), 2),
  });
}

/** The workflow bundle, JIT and connection pools warm up on a throwaway server. */
export async function warmup({ engine: e, poller, report }: Bench): Promise<void> {
  report.section("warm-up");
  e.peer.script(() => undefined);
  const s = await e.addServer("warmup");
  const t = Date.now();
  const sent = await enqueue(e, s.id, 3);
  assertAllSucceeded(await waitTerminal(poller, [...sent.keys()], 60_000, "warm-up"), "warm-up");
  report.log(`3 operations on a fresh server (workflow bundle, JIT, pools): ${Date.now() - t} ms (not counted)`);
}
