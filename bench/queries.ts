// Query accounting for the handoff figures: every pg query this process issues (Prisma's
// adapter-pg, the live listener, …) except the bench's own clients, counted by SQL verb and by
// the Temporal activity it was issued from. Patches pg.Client.prototype.query once; it costs a
// flag check per query while not counting.
import { performance } from "node:perf_hooks";
import { Context } from "@temporalio/activity";
import pg from "pg";

export interface QueryCounts {
  count: number;
  ms: number;
  byKind: Map<string, number>;
  byActivity: Map<string, { n: number; ms: number }>;
}

const ignored = new WeakSet<object>();
let counting = false;
let counts: QueryCounts = fresh();
let installed = false;

/** Leaves this client's queries out (the bench's own polling must not count as the engine's). */
export function ignoreQueriesOf(client: pg.Client): void {
  ignored.add(client);
}

/** Starts counting from zero. */
export function startCountingQueries(): void {
  install();
  counts = fresh();
  counting = true;
}

/** Stops counting; returns what was counted since startCountingQueries(). */
export function stopCountingQueries(): QueryCounts {
  counting = false;
  return counts;
}

function fresh(): QueryCounts {
  return { count: 0, ms: 0, byKind: new Map(), byActivity: new Map() };
}

/** The activity type a query was issued from (the SDK's AsyncLocalStorage); tRPC and the rest otherwise. */
function activityName(): string {
  try {
    return Context.current().info.activityType;
  } catch {
    return "outside activities";
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  // pg's typings overload query() many ways; the wrapper only forwards, so it sees plain arguments.
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: object, ...args: unknown[]) {
    if (!counting || ignored.has(this)) return original.apply(this, args);
    const into = counts;
    const cfg = args[0] as string | { text?: string };
    const text = (typeof cfg === "string" ? cfg : (cfg?.text ?? "")).trimStart();
    const kind = /^\w+/.exec(text)?.[0]?.toUpperCase() ?? "?";
    const activity = activityName();
    const started = performance.now();
    const done = () => {
      const ms = performance.now() - started;
      into.count++;
      into.ms += ms;
      into.byKind.set(kind, (into.byKind.get(kind) ?? 0) + 1);
      const a = into.byActivity.get(activity) ?? { n: 0, ms: 0 };
      into.byActivity.set(activity, { n: a.n + 1, ms: a.ms + ms });
    };
    // Callback style (the last argument is a function) or promise style.
    const cb = args.length && typeof args[args.length - 1] === "function" ? args.length - 1 : -1;
    if (cb >= 0) {
      const inner = args[cb] as (...a: unknown[]) => void;
      args[cb] = (...a: unknown[]) => (done(), inner(...a));
      return original.apply(this, args);
    }
    const r = original.apply(this, args) as Promise<unknown> | undefined;
    r?.then?.(done, done);
    return r;
  };
}
