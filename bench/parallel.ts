// parallel_ratio: PARALLEL.servers fresh servers × PARALLEL.ops operations each, all at once,
// against 1 fresh server × PARALLEL.ops — different servers must not wait for each other.
import { maxOverlap, type ExecRecord } from "../tests/fixtures/ssh-peer";
import { cpuReport, cpuSnapshot, perUnit } from "./cpu";
import type { Bench } from "./harness";
import { assertAllSucceeded, enqueue, waitTerminal } from "./operations";
import { startProfile } from "./profile";
import { fmt, median, round, summary } from "./stats";

/** The run's shape; temporal-floor.ts repeats it with trivial workflows. */
export const PARALLEL = {
  servers: 100,
  ops: 5,
  /** How long the peer holds each command. */
  peerDelayMs: 50,
  /** Runs of 1 server × ops; the ratio uses their median. */
  baselineReps: 3,
} as const;

export async function parallel({ engine: e, poller, report }: Bench): Promise<void> {
  const { log } = report;
  const { servers: SERVERS, ops: OPS, peerDelayMs: DELAY, baselineReps: REPS } = PARALLEL;
  report.section(`parallelism (peer delay ${DELAY} ms per command)`);
  e.peer.script(() => ({ delayMs: DELAY }));

  const run = async (servers: { id: string }[], label: string, timeoutMs: number) => {
    const start = Date.now();
    const sentAll = new Map<string, number>();
    let enqueuedAt = 0;
    await Promise.all(
      servers.map(async (s) => {
        for (const [k, v] of await enqueue(e, s.id, OPS)) sentAll.set(k, v);
      }),
    ).then(() => (enqueuedAt = Date.now()));
    const rows = await waitTerminal(poller, [...sentAll.keys()], timeoutMs, label);
    assertAllSucceeded(rows, label);
    const end = Math.max(...rows.map((r) => r.finishedAt!));
    const lat = rows.map((r) => r.finishedAt! - sentAll.get(r.resourceId)!);
    return { wall: end - start, enqueue: enqueuedAt - start, lat, count: rows.length };
  };

  // 1 server × 5: fresh servers (cold SSH pool, like the 100), a few repetitions, median.
  const singles: Awaited<ReturnType<typeof run>>[] = [];
  for (let r = 0; r < REPS; r++) singles.push(await run([await e.addServer(`single-${r}`)], "1×5", 30_000));
  const w1 = median(singles.map((s) => s.wall));
  log(
    `1 server × ${OPS} ops wall: ${singles.map((s) => s.wall).join(", ")} ms → median ${w1} ms ` +
      `(floor ${OPS}×${DELAY} = ${OPS * DELAY} ms of command time); op latency p50 ${round(median(singles.flatMap((s) => s.lat)))} ms`,
  );

  const servers: { id: string }[] = [];
  for (let i = 0; i < SERVERS; i++) servers.push(await e.addServer(`par-${i}`));
  const execsBefore = e.peer.execs.length;
  const connsBefore = e.peer.connections.length;
  const stopProfile = process.env.BENCH_PROFILE ? await startProfile() : undefined;
  const cpu0 = cpuSnapshot();
  const many = await run(servers, `${SERVERS}×${OPS}`, 180_000);
  const cpu = cpuReport(cpu0, cpuSnapshot());
  if (stopProfile) log(`CPU profile of the ${SERVERS}×${OPS} run (BENCH_PROFILE): ${await stopProfile()}`);
  const execs: ExecRecord[] = e.peer.execs.slice(execsBefore);
  const lat = summary(many.lat);
  const ratio = many.wall / w1;
  const opsPerSec = many.count / (many.wall / 1000);
  log(`${SERVERS} servers × ${OPS} ops wall: ${many.wall} ms (all ${many.count} enqueued after ${many.enqueue} ms)`);
  log("");
  log(`parallel_ratio = ${round(ratio, 2)}  (${many.wall} ms / ${w1} ms)`);
  log(`  method: wall time from the first tRPC enqueue (api.firewall.create) to the latest Operation.finishedAt, all`);
  log(`  operations polled terminal in the DB (20 ms); ${SERVERS} fresh servers each get ${OPS} creates in sequence, servers`);
  log(`  concurrently, vs. the median of ${REPS} runs of 1 fresh server × ${OPS}. Every op is 1 milestone of 1 command; the peer`);
  log(`  holds each command ${DELAY} ms. Web (tRPC), worker and peer share this one Node process and its Prisma pool.`);
  log(`  side: ${round(opsPerSec)} operations/s at ${SERVERS} servers; op latency (enqueue call → finishedAt) ${fmt(lat)}`);
  const per = perUnit(cpu.ms, many.count, "operation");
  log(`  CPU during the ${SERVERS}×${OPS} run: ${cpu.text}`);
  log(`  CPU per operation: ${per.text}`);
  log(
    `  side: peer saw ${execs.length} execs, max ${maxOverlap(execs)} concurrently; ${e.peer.connections.length - connsBefore} SSH connections opened`,
  );
  report.record({
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
