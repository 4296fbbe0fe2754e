// parallel_ratio: PARALLEL.servers fresh servers × PARALLEL.ops operations each, all at once,
// against 1 fresh server × PARALLEL.ops — different servers must not wait for each other.
// Interleaved in one run with the Temporal floor of the same shape (probe-workflows.ts:
// probeQueue of engine-shaped children, local activities where the engine has local ones):
// engine round, floor round, engine round, floor round… (ABAB), so both see the same machine.
import { maxOverlap, type ExecRecord } from "../tests/fixtures/ssh-peer";
import { cpuReport, cpuSnapshot, perUnit } from "./cpu";
import type { Bench } from "./harness";
import { enqueue, terminalRows, waitTerminal } from "./operations";
import { startProfile } from "./profile";
import { fmt, median, round, summary } from "./stats";
import { withProbeWorker } from "./temporal-floor";

/** The run's shape, for the engine and for the floor alike. */
export const PARALLEL = {
  servers: 100,
  ops: 5,
  /** How long the peer holds each command (the floor's activity holds as long). */
  peerDelayMs: 50,
  /** Runs of 1 server × ops per round; the ratio uses the median of all rounds' runs. */
  singlesPerRound: 2,
} as const;

interface Round {
  singles: number[];
  many: number;
  count: number;
  cpuMsPerUnit: number;
  lat?: number[];
  /** false: the run hit its timeout; `many` is then the timeout and `count` what finished. */
  complete: boolean;
}

export async function parallel(bench: Bench, opts: { rounds: number; roundFits: () => boolean }): Promise<void> {
  const { engine: e, poller, report } = bench;
  const { log } = report;
  const { servers: SERVERS, ops: OPS, peerDelayMs: DELAY, singlesPerRound: SINGLES } = PARALLEL;
  report.section(
    `parallelism, engine and Temporal floor interleaved (ABAB…, up to ${opts.rounds} rounds each; ${SERVERS}×${OPS} vs 1×${OPS}, ${DELAY} ms per command)`,
  );
  e.peer.script(() => ({ delayMs: DELAY }));

  // --- engine (A) ---
  /** Runs to the end, or to `timeoutMs`: then it reports how far it got (incomplete) instead of failing the phase. */
  const engineRun = async (servers: { id: string }[], label: string, timeoutMs: number) => {
    const start = Date.now();
    const sentAll = new Map<string, number>();
    let enqueuedAt = 0;
    await Promise.all(
      servers.map(async (s) => {
        for (const [k, v] of await enqueue(e, s.id, OPS)) sentAll.set(k, v);
      }),
    ).then(() => (enqueuedAt = Date.now()));
    const got = await waitTerminal(poller, [...sentAll.keys()], timeoutMs - (Date.now() - start), label).then(
      (rows) => ({ rows, complete: true }),
      async () => ({ rows: await terminalRows(poller, [...sentAll.keys()]), complete: false }),
    );
    const rows = got.rows;
    // Failed operations are counted, not fatal: under load, commands time out (and say so).
    const failed = rows.filter((r) => r.state !== "succeeded").length;
    if (failed) log(`   ${label}: ${failed} operations did not succeed (${rows.filter((r) => r.state !== "succeeded")[0]?.state})`);
    const end = got.complete ? Math.max(...rows.map((r) => r.finishedAt!)) : Date.now();
    const lat = rows.map((r) => r.finishedAt! - sentAll.get(r.resourceId)!);
    if (!got.complete) log(`   ${label}: INCOMPLETE — ${rows.length}/${sentAll.size} operations finished within ${timeoutMs / 1000} s`);
    return { wall: end - start, enqueue: enqueuedAt - start, lat, count: rows.length, complete: got.complete && failed === 0 };
  };
  let serial = 0;
  const engineRound = async (r: number): Promise<Round> => {
    const singles: number[] = [];
    for (let i = 0; i < SINGLES; i++) singles.push((await engineRun([await e.addServer(`single-${serial++}`)], "1×5", 30_000)).wall);
    const servers: { id: string }[] = [];
    for (let i = 0; i < SERVERS; i++) servers.push(await e.addServer(`par-${serial++}`));
    const execsBefore = e.peer.execs.length;
    const connsBefore = e.peer.connections.length;
    const stopProfile = process.env.BENCH_PROFILE && r === 0 ? await startProfile() : undefined;
    const cpu0 = cpuSnapshot();
    const many = await engineRun(servers, `${SERVERS}×${OPS}`, 150_000);
    const cpu = cpuReport(cpu0, cpuSnapshot());
    if (stopProfile) log(`  CPU profile of the ${SERVERS}×${OPS} run (BENCH_PROFILE): ${await stopProfile()}`);
    const execs: ExecRecord[] = e.peer.execs.slice(execsBefore);
    const per = perUnit(cpu.ms, many.count, "operation");
    log(
      `A${r + 1} engine: 1×${OPS} ${singles.join(", ")} ms; ${SERVERS}×${OPS} ${many.wall} ms (all enqueued after ${many.enqueue} ms) → ` +
        `${round(many.count / (many.wall / 1000))} ops/s; op latency ${fmt(summary(many.lat))}`,
    );
    log(`   CPU: ${cpu.text}`);
    log(`   CPU per operation: ${per.text}`);
    log(
      `   peer saw ${execs.length} execs, max ${maxOverlap(execs)} concurrently; ${e.peer.connections.length - connsBefore} SSH connections opened`,
    );
    return { singles, many: many.wall, count: many.count, cpuMsPerUnit: per.totalMs, lat: many.lat, complete: many.complete };
  };

  // --- floor (B) ---
  const id = `probeq-${Date.now()}`;
  const floorRound = async (taskQueue: string, r: number): Promise<Round> => {
    const queues = async (count: number, tag: string) => {
      const start = Date.now();
      await Promise.all(
        Array.from({ length: count }, (_, i) =>
          e.temporal.workflow.execute("probeQueue", { taskQueue, workflowId: `${id}-${tag}-${i}`, args: [OPS, DELAY] }),
        ),
      );
      return Date.now() - start;
    };
    const singles: number[] = [];
    for (let i = 0; i < SINGLES; i++) singles.push(await queues(1, `one${r}-${i}`));
    const c0 = cpuSnapshot();
    const many = await queues(SERVERS, `many${r}`);
    const cpu = cpuReport(c0, cpuSnapshot());
    const per = perUnit(cpu.ms, SERVERS * OPS, "child", "children");
    log(
      `B${r + 1} floor:  1×${OPS} ${singles.join(", ")} ms; ${SERVERS}×${OPS} ${many} ms → ${round((SERVERS * OPS) / (many / 1000))} children/s`,
    );
    log(`   CPU: ${cpu.text}`);
    log(`   CPU per child: ${per.text}`);
    return { singles, many, count: SERVERS * OPS, cpuMsPerUnit: per.totalMs, complete: true };
  };

  const A: Round[] = [];
  const B: Round[] = [];
  await withProbeWorker(bench.infra.temporalAddress, e.taskQueue, async (taskQueue) => {
    for (let r = 0; r < opts.rounds; r++) {
      if (r > 0) await cancelLeftovers(bench);
      if (r > 0 && (!opts.roundFits() || A.some((x) => !x.complete))) {
        log(
          `(round ${r + 1} skipped: ${A.some((x) => !x.complete) ? "the engine's last round did not finish in time" : "not enough of the time budget left"})`,
        );
        break;
      }
      A.push(await engineRound(r));
      B.push(await floorRound(taskQueue, r));
    }
  });

  // An incomplete run has no wall time: no ratio from it (its throughput is still shown).
  await cancelLeftovers(bench);
  const ratio = (rs: Round[]) => (rs.every((x) => x.complete) ? median(rs.map((x) => x.many)) / median(rs.flatMap((x) => x.singles)) : NaN);
  const perSec = (rs: Round[]) => median(rs.map((x) => x.count / (x.many / 1000)));
  const engineRatio = ratio(A);
  const floorRatio = ratio(B);
  const lat = summary(A.flatMap((x) => x.lat ?? []));
  log("");
  log(
    `parallel_ratio = ${round(engineRatio, 2)}  (median ${SERVERS}×${OPS} wall ${median(A.map((x) => x.many))} ms / median 1×${OPS} wall ${median(A.flatMap((x) => x.singles))} ms)`,
  );
  log(
    `  engine: ${round(perSec(A))} operations/s at ${SERVERS} servers (median of ${A.length} rounds: ${A.map((x) => round(x.count / (x.many / 1000))).join(", ")})`,
  );
  log(
    `  floor:  ${round(perSec(B))} children/s, floor parallel ratio ${round(floorRatio, 2)} (rounds: ${B.map((x) => round(x.count / (x.many / 1000))).join(", ")})`,
  );
  log(`  method: engine = wall time from the first tRPC enqueue (api.firewall.create) to the latest Operation.finishedAt,`);
  log(`  all operations polled terminal in the DB (20 ms); ${SERVERS} fresh servers each get ${OPS} creates in sequence, servers`);
  log(`  concurrently, vs. 1 fresh server × ${OPS} (${SINGLES} runs per round). Every op is 1 milestone of 1 command; the peer holds`);
  log(`  each command ${DELAY} ms. Web (tRPC), worker and peer share this one Node process and its Prisma pool.`);
  log(`  floor = the same shape with no BrokeForge code: ${SERVERS} probeQueue workflows started at once by the client, each`);
  log(`  running ${OPS} children in sequence; child = local no-op, ordinary activity holding ${DELAY} ms, local no-op (as the`);
  log(`  engine's beginOperation, runMilestone, completeOperation); its own worker in this process, same options.`);
  log(`  The floor does strictly less than the engine (no signals, DB, SSH, tRPC, search attributes): floor children/s ≥`);
  log(`  engine ops/s is what a true lower bound means; if not, the machine's load moved between rounds (see CPU lines).`);
  log(`  op latency (enqueue call → finishedAt), all engine rounds: ${fmt(lat)}`);
  report.record({
    parallel_ratio: round(engineRatio, 2),
    wall_1x5_ms: median(A.flatMap((x) => x.singles)),
    wall_100x5_ms: median(A.map((x) => x.many)),
    ops_per_sec_100_servers: round(perSec(A)),
    ops_per_sec_100_servers_rounds: A.map((x) => round(x.count / (x.many / 1000))),
    op_latency_p50_ms_100_servers: round(lat.p50),
    op_latency_p90_ms_100_servers: round(lat.p90),
    cpu_ms_per_op_100x5: round(median(A.map((x) => x.cpuMsPerUnit))),
    floor_parallel_ratio: round(floorRatio, 2),
    floor_children_per_sec: round(perSec(B)),
    floor_children_per_sec_rounds: B.map((x) => round(x.count / (x.many / 1000))),
    floor_cpu_ms_per_child: round(median(B.map((x) => x.cpuMsPerUnit))),
    parallel_rounds: A.length,
    parallel_incomplete_rounds: A.filter((x) => !x.complete).length,
  });
}

/**
 * Operations an incomplete run left behind would keep loading the machine through the next
 * phases: cancelled (as a user would), and waited for, bounded.
 */
async function cancelLeftovers({ engine: e, poller, report }: Bench): Promise<void> {
  const left = async () =>
    (await poller.query<{ id: string }>(`select id from "Operation" where state in ('queued', 'running')`)).rows.map((r) => r.id);
  const ids = await left();
  if (ids.length === 0) return;
  for (const id of ids) await e.api.operations.cancel({ id }).catch(() => undefined);
  const deadline = Date.now() + 60_000;
  while ((await left()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  report.log(`   (${ids.length} unfinished operations cancelled before going on; ${(await left()).length} still not ended)`);
}
