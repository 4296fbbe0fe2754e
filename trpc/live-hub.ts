// One LISTEN connection per web process, fanned out to every subscriber in memory.
// Subscribers register before they replay missed events from the table, so nothing falls
// between the replay and the live feed (duplicates are dropped by id).
import pg from "pg";
import type { LiveEvent } from "../domain/live";

/** Parsed once per NOTIFY and shared by every subscriber (fan-out is the hot path). */
export interface Notification {
  userId: string;
  serverId: string | null;
  seq: bigint;
  event: LiveEvent;
}

type Listener = (event: Notification) => void;

const CHANNEL = "brokeforge_changes";
// Operation output lines (activities/output.ts): ids only, on the same connection.
const OUTPUT_CHANNEL = "brokeforge_output";

export interface OutputNote {
  operationId: string;
  lastId: bigint;
}

export class LiveHub {
  #client: pg.Client | null = null;
  #listeners = new Set<Listener>();
  #outputListeners = new Set<(note: OutputNote) => void>();
  #closed = false;
  #ready: Promise<void> | null = null;

  constructor(private readonly databaseUrl: string) {}

  /** Connects (once) and keeps reconnecting while the hub is open. */
  start(): Promise<void> {
    this.#ready ??= this.#connect();
    return this.#ready;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on("notification", (n) => {
      if (n.channel === OUTPUT_CHANNEL && n.payload) {
        const { operationId, lastId } = JSON.parse(n.payload) as { operationId: string; lastId: string };
        const note: OutputNote = { operationId, lastId: BigInt(lastId) };
        for (const l of this.#outputListeners) l(note);
        return;
      }
      if (n.channel !== CHANNEL || !n.payload) return;
      const { userId, id, ...rest } = JSON.parse(n.payload) as Omit<LiveEvent, "id"> & { id: number; userId: string };
      const event: LiveEvent = { id: String(id), ...rest };
      const note: Notification = { userId, serverId: rest.serverId, seq: BigInt(id), event };
      for (const l of this.#listeners) l(note);
    });
    client.on("error", () => this.#reconnect(client));
    client.on("end", () => this.#reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    await client.query(`LISTEN ${OUTPUT_CHANNEL}`);
    this.#client = client;
  }

  #reconnect(old: pg.Client) {
    if (this.#closed || this.#client !== old) return;
    this.#client = null;
    // Subscribers resume from the table on their next reconnect; retry the LISTEN meanwhile.
    const retry = () => {
      if (this.#closed) return;
      this.#ready = this.#connect().catch(() => void setTimeout(retry, 1000));
    };
    setTimeout(retry, 200);
  }

  /** Buffers matching events from now on; iterate it, and close it when done. */
  subscribe(filter: (e: Notification) => boolean, signal?: AbortSignal) {
    return buffered(this.#listeners, filter, signal);
  }

  /** The same for output notifications (new lines of an operation). */
  subscribeOutput(filter: (e: OutputNote) => boolean, signal?: AbortSignal) {
    return buffered(this.#outputListeners, filter, signal);
  }

  get subscriberCount(): number {
    return this.#listeners.size + this.#outputListeners.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const l of [...this.#listeners]) this.#listeners.delete(l);
    for (const l of [...this.#outputListeners]) this.#outputListeners.delete(l);
    await this.#client?.end().catch(() => {});
  }
}

function buffered<T>(listeners: Set<(e: T) => void>, filter: (e: T) => boolean, signal?: AbortSignal) {
  const buffer: T[] = [];
  let wake: (() => void) | null = null;
  const listener = (e: T) => {
    if (!filter(e)) return;
    buffer.push(e);
    wake?.();
  };
  listeners.add(listener);
  const close = () => {
    listeners.delete(listener);
    wake?.();
  };
  signal?.addEventListener("abort", close, { once: true });
  return {
    close,
    async *[Symbol.asyncIterator](): AsyncGenerator<T> {
      while (listeners.has(listener)) {
        if (buffer.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        while (buffer.length > 0) yield buffer.shift()!;
      }
    },
  };
}

let hub: LiveHub | null = null;

export function liveHub(databaseUrl: string): LiveHub {
  hub ??= new LiveHub(databaseUrl);
  return hub;
}

export async function closeLiveHub(): Promise<void> {
  await hub?.close();
  hub = null;
}
