// Live change events (the seed's two channels): one server's, or all of the caller's
// servers'. Each event is tracked by its id; a client that reconnects sends the last id it
// got and first receives what it missed from the table, then live events — no gap, no
// duplicate (ids follow commit order, see the change-event migration).
import { tracked } from "@trpc/server";
import { z } from "zod";
import type { LiveEvent } from "../../domain/live";
import { db } from "../../core/db";
import { sharedEnv } from "../../core/env";
import { liveHub } from "../live-hub";
import { ownedServer } from "../procedures";
import { protectedProcedure, router } from "../init";

const REPLAY_PAGE = 500;
const resume = z.object({
  lastEventId: z
    .string()
    .regex(/^\d{1,19}$/)
    .nullish(),
});

async function* changes(opts: { userId: string; serverId?: string; lastEventId?: string | null; signal?: AbortSignal }) {
  const { userId, serverId } = opts;
  const hub = liveHub(sharedEnv().DATABASE_URL);
  await hub.start();
  // Listen first, then replay: anything committed meanwhile is in the buffer or the table.
  const live = hub.subscribe((e) => e.userId === userId && (!serverId || e.serverId === serverId), opts.signal);
  try {
    let last: bigint;
    if (!opts.lastEventId) {
      // A fresh subscriber starts from now (it refetches its data when the subscription starts).
      const newest = await db().changeEvent.findFirst({ where: { userId }, orderBy: { id: "desc" }, select: { id: true } });
      last = newest?.id ?? 0n;
      // Tell the client where it starts, so a connection lost before any real event still
      // resumes from here instead of "from now".
      yield tracked(String(last), {
        id: String(last),
        serverId: serverId ?? null,
        entity: "stream",
        entityId: "",
        action: "start",
      } satisfies LiveEvent);
    } else {
      last = BigInt(opts.lastEventId);
      for (;;) {
        const missed: ChangeEventRow[] = await db().changeEvent.findMany({
          where: { userId, ...(serverId ? { serverId } : {}), id: { gt: last } },
          orderBy: { id: "asc" },
          take: REPLAY_PAGE,
        });
        for (const row of missed) {
          last = row.id;
          yield tracked(String(row.id), toLive(row));
        }
        if (missed.length < REPLAY_PAGE) break;
      }
    }
    for await (const note of live) {
      if (note.seq <= last) continue; // already replayed
      last = note.seq;
      yield tracked(note.event.id, note.event);
    }
  } finally {
    live.close();
  }
}

type ChangeEventRow = { id: bigint; serverId: string | null; entity: string; entityId: string; action: string };

function toLive(row: ChangeEventRow): LiveEvent {
  return {
    id: String(row.id),
    serverId: row.serverId,
    entity: row.entity,
    entityId: row.entityId,
    action: row.action as LiveEvent["action"],
  };
}

export const liveRouter = router({
  /** Every change on one of the caller's servers. */
  server: protectedProcedure.input(resume.extend({ serverId: z.string().min(1).max(64) })).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    await ownedServer(ctx.user.id, input.serverId);
    yield* changes({ userId: ctx.user.id, serverId: input.serverId, lastEventId: input.lastEventId, signal });
  }),

  /** Every change on any of the caller's servers (dashboard). */
  all: protectedProcedure.input(resume).subscription(async function* ({ ctx, input, signal }) {
    yield* changes({ userId: ctx.user.id, lastEventId: input.lastEventId, signal });
  }),
});
