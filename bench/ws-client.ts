// A live subscriber over a raw `ws` socket, speaking tRPC's WebSocket protocol the way the
// browser's wsLink does (app/lib/trpc.tsx): the session cookie on the upgrade request, the
// page's Origin, one `live.server` subscription. Every message is counted; change events are
// recorded by their event id (tRPC's tracked id = the ChangeEvent id), with their arrival time.
import { performance } from "node:perf_hooks";
import superjson, { type SuperJSONResult } from "superjson";
import WebSocket from "ws";

export interface Arrival {
  eventId: string;
  at: number; // performance.now() of this process
}

export class LiveSubscriber {
  readonly ws: WebSocket;
  /** Change events (not the stream-start marker), in arrival order. */
  readonly events: Arrival[] = [];
  started = false;
  messages = 0;
  /** Messages that were neither a change event, the stream start, nor tRPC's "started" ack. */
  other = 0;
  errors = 0;
  closed = false;
  #onEvent?: (a: Arrival) => void;

  constructor(base: string, cookie: string, serverId: string, onEvent?: (a: Arrival) => void) {
    this.#onEvent = onEvent;
    this.ws = new WebSocket(`${base.replace(/^http/, "ws")}/trpc`, { headers: { cookie, origin: base } });
    const input = superjson.serialize({ serverId });
    this.ws.on("open", () => this.ws.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "live.server", input } })));
    this.ws.on("error", () => this.errors++);
    this.ws.on("close", () => (this.closed = true));
    this.ws.on("message", (raw) => {
      const at = performance.now();
      this.messages++;
      const text = String(raw);
      // The server's keep-alive (trpc/ws.ts): answered as the browser's wsLink does.
      if (text === "PING") return void this.ws.send("PONG");
      let msg: { result?: { type?: string; id?: string; data?: SuperJSONResult }; error?: unknown };
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        return void this.other++;
      }
      if (msg.error) return void this.errors++;
      if (msg.result?.type === "started") return;
      // A tracked event travels as { id, data: event } (superjson), the id also on result.id.
      const tracked = msg.result?.data ? superjson.deserialize<{ id?: string; data?: { entity?: string } }>(msg.result.data) : undefined;
      if (tracked?.data?.entity === "stream") return void (this.started = true);
      const eventId = msg.result?.id ?? tracked?.id;
      if (msg.result?.type === "data" && eventId) {
        const a = { eventId, at };
        this.events.push(a);
        this.#onEvent?.(a);
        return;
      }
      this.other++;
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Opens `count` subscribers (at most `concurrency` handshakes at a time); resolves when all started or the deadline. */
export async function openSubscribers(
  count: number,
  make: () => LiveSubscriber,
  opts: { deadlineMs: number; concurrency?: number },
): Promise<LiveSubscriber[]> {
  const subs: LiveSubscriber[] = [];
  const concurrency = opts.concurrency ?? 100;
  const deadline = Date.now() + opts.deadlineMs;
  while (subs.length < count && Date.now() < deadline) {
    const batch = Array.from({ length: Math.min(concurrency, count - subs.length) }, make);
    subs.push(...batch);
    while (!batch.every((s) => s.started || s.closed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
  return subs;
}
