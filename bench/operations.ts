// Drives the engine the way a user does (tRPC creates of firewall rules, one operation each)
// and waits for the operations in the database, on the bench's own pg client.
import type pg from "pg";
import type { BenchEngine } from "./harness";

export interface OpRow {
  id: string;
  resourceId: string;
  state: string;
  finishedAt: number | null;
  startedAt: number | null;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates `count` firewall rules on `serverId`, one after the other; returns resourceId → enqueue time. */
export async function enqueue(e: BenchEngine, serverId: string, count: number, offset = 0): Promise<Map<string, number>> {
  const sent = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const at = Date.now();
    const rule = await e.api.firewall.create({
      serverId,
      name: `bench-${offset + i}`,
      port: String(2000 + offset + i),
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    sent.set(rule.id, at);
  }
  return sent;
}

/** Polls (20 ms) until every operation of these resources is terminal. */
export async function waitTerminal(poller: pg.Client, resourceIds: string[], timeoutMs: number, what: string): Promise<OpRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await poller.query<OpRow>(
      `select id, "resourceId", state::text as state,
              extract(epoch from "finishedAt") * 1000 as "finishedAt",
              extract(epoch from "startedAt") * 1000 as "startedAt"
         from "Operation" where "resourceId" = any($1)`,
      [resourceIds],
    );
    const terminal = rows.filter((r) => r.state === "succeeded" || r.state === "failed" || r.state === "cancelled");
    if (rows.length === resourceIds.length && terminal.length === rows.length) {
      // extract() comes back as numeric, which pg hands over as a string.
      return rows.map((r) => ({ ...r, finishedAt: Number(r.finishedAt), startedAt: r.startedAt === null ? null : Number(r.startedAt) }));
    }
    if (Date.now() > deadline) {
      const byState = new Map<string, number>();
      for (const r of rows) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
      const states = [...byState].map(([k, v]) => `${k} ${v}`);
      throw new Error(
        `${what}: ${terminal.length}/${resourceIds.length} operations terminal after ${timeoutMs} ms (${states.join(", ") || "none created"})`,
      );
    }
    await sleep(20);
  }
}

/** The operations of these resources that are terminal now (for a run that hit its timeout). */
export async function terminalRows(poller: pg.Client, resourceIds: string[]): Promise<OpRow[]> {
  const { rows } = await poller.query<OpRow>(
    `select id, "resourceId", state::text as state,
            extract(epoch from "finishedAt") * 1000 as "finishedAt",
            extract(epoch from "startedAt") * 1000 as "startedAt"
       from "Operation" where "resourceId" = any($1) and state in ('succeeded', 'failed', 'cancelled')`,
    [resourceIds],
  );
  return rows.map((r) => ({ ...r, finishedAt: Number(r.finishedAt), startedAt: r.startedAt === null ? null : Number(r.startedAt) }));
}

export function assertAllSucceeded(rows: OpRow[], what: string): void {
  const bad = rows.filter((r) => r.state !== "succeeded");
  if (bad.length)
    throw new Error(
      `${what}: ${bad.length} operations did not succeed (${bad
        .slice(0, 3)
        .map((r) => r.state)
        .join(", ")})`,
    );
}
