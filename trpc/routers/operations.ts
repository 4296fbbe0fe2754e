// Operations of a server (newest first) with their milestones, and cancellation; an
// operation's output lines (activities/output.ts), as pages or live.
import { TRPCError, tracked } from "@trpc/server";
import { z } from "zod";
import { db } from "../../core/db";
import { sharedEnv } from "../../core/env";
import { liveHub, type LiveHub } from "../live-hub";
import { temporalUrl } from "../../core/temporal-links";
import { requestCancel } from "../../core/operations";
import { serverProcedure } from "../procedures";
import { protectedProcedure, router } from "../init";

const withLinks = <T extends { workflowId: string | null; runId: string | null }>(op: T) => ({
  ...op,
  temporalUrl: temporalUrl(op.workflowId, op.runId),
});

async function ownedOperation(userId: string, id: string) {
  const op = await db().operation.findFirst({ where: { id, server: { userId } } });
  if (!op) throw new TRPCError({ code: "NOT_FOUND", message: "Operation not found" });
  return op;
}

const lineId = z.string().regex(/^\d{1,19}$/);
const OUTPUT_PAGE = 500;
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

/** One stored line as clients get it; ids are strings (bigint in the table), in output order. */
export interface OutputLineDto {
  id: string;
  step: number;
  run: number;
  stream: string;
  line: number;
  text: string;
}

/** One message of `operations.output`: new lines, and `done` (the final state) once the operation ended and every line was sent. */
export interface OutputEvent {
  lines: OutputLineDto[];
  done: "succeeded" | "failed" | "cancelled" | null;
}

async function linesAfter(operationId: string, after: bigint, limit: number): Promise<OutputLineDto[]> {
  const rows = await db().operationOutput.findMany({
    where: { operationId, id: { gt: after } },
    orderBy: { id: "asc" },
    take: limit,
    select: { id: true, step: true, run: true, stream: true, line: true, text: true },
  });
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/**
 * Wakes its reader when the operation has new lines or changed (it may have ended). Registered
 * before the first read, so nothing committed after that read can be missed: it pokes.
 */
function wakeups(hub: LiveHub, operationId: string, signal?: AbortSignal) {
  let dirty = true;
  let wake: (() => void) | null = null;
  const poke = () => {
    dirty = true;
    wake?.();
  };
  const feeds = [
    hub.subscribeOutput((n) => n.operationId === operationId, signal),
    hub.subscribe((e) => e.event.entity === "operation" && e.event.entityId === operationId, signal),
  ];
  for (const feed of feeds) {
    void (async () => {
      for await (const _ of feed) poke();
    })();
  }
  signal?.addEventListener("abort", poke, { once: true });
  return {
    async next(): Promise<void> {
      if (!dirty) await new Promise<void>((r) => (wake = r));
      wake = null;
      dirty = false;
    },
    close() {
      for (const feed of feeds) feed.close();
    },
  };
}

export const operationsRouter = router({
  list: serverProcedure.input(z.object({ limit: z.number().int().min(1).max(200).default(50) })).query(async ({ ctx, input }) => {
    const ops = await db().operation.findMany({
      where: { serverId: ctx.server.id },
      orderBy: { createdAt: "desc" },
      take: input.limit,
      include: { user: { select: { email: true } } },
    });
    return ops.map(({ user, ...op }) => withLinks({ ...op, by: user?.email ?? null }));
  }),

  byId: protectedProcedure.input(z.object({ id: z.string().min(1).max(64) })).query(async ({ ctx, input }) => {
    const op = await ownedOperation(ctx.user.id, input.id);
    const milestones = await db().operationMilestone.findMany({ where: { operationId: op.id }, orderBy: { step: "asc" } });
    return { ...withLinks(op), milestones };
  }),

  /** Stored output lines after id `after` (oldest first); `next` is where the following page starts, null at the end. */
  outputPage: protectedProcedure
    .input(
      z.object({
        operationId: z.string().min(1).max(64),
        after: lineId.nullish(),
        limit: z.number().int().min(1).max(5000).default(OUTPUT_PAGE),
      }),
    )
    .query(async ({ ctx, input }) => {
      const op = await ownedOperation(ctx.user.id, input.operationId);
      const lines = await linesAfter(op.id, BigInt(input.after ?? "0"), input.limit);
      return { lines, next: lines.length === input.limit ? lines.at(-1)!.id : null, state: op.state };
    }),

  /**
   * The operation's output: first the stored lines after `after` (or after the last event id
   * tRPC resends on a reconnect), then new ones as they are written, in id order with no line
   * twice; ends with `done` once the operation has ended and every line was sent.
   */
  output: protectedProcedure
    .input(z.object({ operationId: z.string().min(1).max(64), after: lineId.nullish(), lastEventId: lineId.nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      const op = await ownedOperation(ctx.user.id, input.operationId);
      const hub = liveHub(sharedEnv().DATABASE_URL);
      await hub.start();
      const wake = wakeups(hub, op.id, signal);
      let last = BigInt(input.lastEventId ?? input.after ?? "0");
      try {
        for (;;) {
          await wake.next();
          if (signal?.aborted) return;
          // The state first: once it is final, the milestones' writers have finished, so the
          // lines read next are all there are.
          const state = (await db().operation.findUnique({ where: { id: op.id }, select: { state: true } }))?.state;
          for (;;) {
            const lines = await linesAfter(op.id, last, OUTPUT_PAGE);
            if (lines.length === 0) break;
            last = BigInt(lines.at(-1)!.id);
            yield tracked(String(last), { lines, done: null } satisfies OutputEvent);
            if (lines.length < OUTPUT_PAGE) break;
          }
          if (!state || ENDED.has(state)) {
            const done = (state ?? "cancelled") as NonNullable<OutputEvent["done"]>;
            yield tracked(String(last), { lines: [], done } satisfies OutputEvent);
            return;
          }
        }
      } finally {
        wake.close();
      }
    }),

  cancel: protectedProcedure.input(z.object({ id: z.string().min(1).max(64) })).mutation(async ({ ctx, input }) => {
    const op = await ownedOperation(ctx.user.id, input.id);
    if (op.state !== "queued" && op.state !== "running")
      throw new TRPCError({ code: "CONFLICT", message: `The operation already ${op.state}` });
    if (!op.resourceType || op.kind === "server.test_connection")
      throw new TRPCError({ code: "BAD_REQUEST", message: "This operation can't be cancelled" });
    await requestCancel(op.serverId, op.id);
    return { id: op.id };
  }),
});
