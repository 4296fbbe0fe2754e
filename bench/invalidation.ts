// invalidation_p99_ms: a committed change → its change event received on each subscriber's
// socket (raw ws subscribers like a page's, bench/ws-client.ts). Matched by EVENT ID: after each
// commit the bench reads the change event's id from the table, and every arrival is paired with
// the round of its own id — a late message counts, late, for its own round, never for the next.
// Every message is counted; a delivery that never arrives counts as infinitely late, so more
// than 1% missed makes the p99 null (and `missed` says how many).
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { percentile, round } from "./stats";
import { LiveSubscriber, openSubscribers, type Arrival } from "./ws-client";

export interface DeliveryStats {
  expected: number;
  delivered: number;
  missed: number;
  duplicates: number;
  /** Change events whose id belongs to no round (another writer, or a replay). */
  foreign: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

/** Pairs every subscriber's arrivals with the rounds' commit times by event id. */
export function deliveries(
  subs: LiveSubscriber[],
  t0ById: Map<string, number>,
  expectedPerSub: number,
): DeliveryStats & { latencies: number[] } {
  const latencies: number[] = [];
  let duplicates = 0;
  let foreign = 0;
  for (const s of subs) {
    const seen = new Set<string>();
    for (const a of s.events) {
      const t0 = t0ById.get(a.eventId);
      if (t0 === undefined) foreign++;
      else if (seen.has(a.eventId)) duplicates++;
      else {
        seen.add(a.eventId);
        latencies.push(a.at - t0);
      }
    }
  }
  const expected = subs.length * expectedPerSub;
  const missed = expected - latencies.length;
  // Missed deliveries are infinitely late: they stay in the percentile.
  const all = [...latencies, ...Array<number>(Math.max(0, missed)).fill(Infinity)];
  const fin = (x: number) => (Number.isFinite(x) ? round(x) : null);
  return {
    expected,
    delivered: latencies.length,
    missed,
    duplicates,
    foreign,
    p50: fin(percentile(all, 50)),
    p99: fin(percentile(all, 99)),
    max: fin(Math.max(...all)),
    latencies,
  };
}

/** Commits one change to the server row; returns the change event's id and the time before the query. */
export async function commitChange(
  db: pg.Client,
  serverId: string,
  set: { column: "name" | "connectionError"; value: string },
  after: bigint,
) {
  const t0 = performance.now();
  const wall0 = Date.now();
  await db.query(`update "Server" set "${set.column}" = $1 where id = $2`, [set.value, serverId]); // autocommit
  const { rows } = await db.query<{ id: string }>(
    `select id::text from "ChangeEvent" where "entityId" = $1 and id > $2 order by id limit 1`,
    [serverId, after.toString()],
  );
  if (!rows[0]) throw new Error(`no change event after the update of ${serverId}`);
  return { eventId: rows[0].id, t0, wall0 };
}

export async function lastEventId(db: pg.Client): Promise<bigint> {
  const { rows } = await db.query<{ id: string | null }>(`select max(id)::text as id from "ChangeEvent"`);
  return BigInt(rows[0]?.id ?? "0");
}

export async function measureInvalidation(
  app: { base: string; cookie: string; db: pg.Client },
  serverId: string,
  log: (s: string) => void,
  opts: { clients: number; rounds: number },
): Promise<Record<string, unknown>> {
  const received = new Map<string, number>();
  const onEvent = (a: Arrival) => received.set(a.eventId, (received.get(a.eventId) ?? 0) + 1);
  const t = Date.now();
  const subs = await openSubscribers(opts.clients, () => new LiveSubscriber(app.base, app.cookie, serverId, onEvent), {
    deadlineMs: 60_000,
  });
  const started = subs.filter((s) => s.started).length;
  log(`  ${started}/${opts.clients} ws subscribers started in ${Date.now() - t} ms`);
  const t0ById = new Map<string, number>();
  try {
    let after = await lastEventId(app.db);
    for (let r = 0; r < opts.rounds; r++) {
      const c = await commitChange(app.db, serverId, { column: "connectionError", value: `bench ${r}` }, after);
      after = BigInt(c.eventId);
      t0ById.set(c.eventId, c.t0);
      const deadline = performance.now() + 2000;
      while ((received.get(c.eventId) ?? 0) < subs.length && performance.now() < deadline) await new Promise((res) => setTimeout(res, 2));
      await new Promise((res) => setTimeout(res, 50)); // let the system settle between rounds
    }
    // Stragglers still count for their own round.
    const grace = performance.now() + 2000;
    const all = () => [...t0ById.keys()].every((id) => (received.get(id) ?? 0) >= subs.length);
    while (!all() && performance.now() < grace) await new Promise((res) => setTimeout(res, 10));
  } finally {
    for (const s of subs) s.close();
  }
  const d = deliveries(subs, t0ById, opts.rounds);
  // subscribers that never started miss every round too (they are in subs).
  const messages = subs.reduce((a, s) => a + s.messages, 0);
  const other = subs.reduce((a, s) => a + s.other, 0);
  const errors = subs.reduce((a, s) => a + s.errors, 0);
  log(`  ${opts.clients} ws subscribers of one server, ${opts.rounds} status changes (autocommit UPDATE; clock starts before the query)`);
  log(
    `    latency to each subscriber (matched by event id): p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms; ` +
      `${d.delivered}/${d.expected} delivered, missed ${d.missed}, duplicates ${d.duplicates}, foreign events ${d.foreign}`,
  );
  log(`    messages counted: ${messages} in all (${other} of no known kind, ${errors} errors)`);
  return {
    invalidation_p50_ms: d.p50,
    invalidation_p99_ms: d.p99,
    invalidation_max_ms: d.max,
    invalidation_expected: d.expected,
    invalidation_missed: d.missed,
    invalidation_duplicates: d.duplicates,
    invalidation_messages: messages,
  };
}
