// A typed BrokeForge API client for internal tools and scripts (Node). Queries and mutations go
// over HTTP with the API token as a bearer token; subscriptions go over one WebSocket with the
// token in the connection params. The socket opens on the first subscription, reconnects with
// backoff when it drops, and re-subscribes with the id of the last event received, so tracked
// subscriptions (live.*) resume without a gap.
//
//   const { trpc, close } = createBrokeForgeClient({ url: "http://127.0.0.1:3000", token: "bf_…" });
//   const servers = await trpc.servers.list.query();
//
// Outputs are decoded with superjson (the server's transformer), so dates are `Date`s here too.
//
// Types only from the router: this file must not pull server modules into a script.
import {
  createTRPCClient,
  createTRPCUntypedClient,
  createWSClient,
  httpLink,
  splitLink,
  wsLink,
  type TRPCClient,
  type TRPCUntypedClient,
} from "@trpc/client";
import superjson from "superjson";
import WebSocket from "ws";
import type { AppRouter } from "./router";

export interface BrokeForgeClientOptions {
  /** Base URL of the web app, e.g. http://127.0.0.1:3000 (tRPC is served at <url>/trpc). */
  url: string;
  /** An API token (Settings → API tokens), `bf_…`. */
  token: string;
  /** Delay before reconnect attempt n (0-based). Default: 0.5 s doubling up to 30 s, with jitter. */
  retryDelayMs?: (attempt: number) => number;
  /** WebSocket lifecycle hooks (e.g. to log reconnects). */
  onOpen?: () => void;
  onClose?: (cause?: { code?: number }) => void;
}

export interface BrokeForgeClient {
  trpc: TRPCClient<AppRouter>;
  /**
   * The same connection by procedure path (`client.mutation("firewall.create", input)`), for
   * code that is generic over the catalogue's kinds (the ops CLI); the server still validates.
   */
  untyped: TRPCUntypedClient<AppRouter>;
  /** Ends subscriptions and closes the WebSocket (HTTP needs no cleanup). */
  close(): void;
}

export function reconnectDelay(attempt: number): number {
  const base = Math.min(30_000, 500 * 2 ** attempt);
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** `<base>/trpc` over http(s), and the same path over ws(s). */
export function endpoints(url: string): { http: string; ws: string } {
  const base = new URL(url);
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new Error(`Not an http(s) URL: ${url}`);
  const http = new URL("trpc", base.href.endsWith("/") ? base.href : `${base.href}/`);
  http.search = "";
  http.hash = "";
  const ws = new URL(http.href);
  ws.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  return { http: http.href, ws: ws.href };
}

export function createBrokeForgeClient(opts: BrokeForgeClientOptions): BrokeForgeClient {
  const { http, ws } = endpoints(opts.url);
  const wsClient = createWSClient({
    url: ws,
    connectionParams: { token: opts.token },
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    // Open on the first subscription only; a script that just queries never touches ws. (Not
    // closeMs 0: while a subscription is open the idle timer re-arms itself every closeMs.)
    lazy: { enabled: true, closeMs: 10_000 },
    retryDelayMs: opts.retryDelayMs ?? reconnectDelay,
    // Notice a dead connection (no pong) instead of waiting for TCP to give up.
    keepAlive: { enabled: true, intervalMs: 10_000, pongTimeoutMs: 5_000 },
    onOpen: opts.onOpen,
    onClose: opts.onClose,
  });
  const links = [
    splitLink<AppRouter>({
      condition: (op) => op.type === "subscription",
      true: wsLink({ client: wsClient, transformer: superjson }),
      false: httpLink({ url: http, headers: { authorization: `Bearer ${opts.token}` }, transformer: superjson }),
    }),
  ];
  const trpc = createTRPCClient<AppRouter>({ links });
  return {
    trpc,
    untyped: createTRPCUntypedClient<AppRouter>({ links }),
    close() {
      void wsClient.close();
    },
  };
}
