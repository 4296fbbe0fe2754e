// tRPC over WebSocket on the web server's port (path /trpc). Checks Origin, pings idle
// sockets, and closes a user's sockets when their session ends or their token is revoked.
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { onRevocation, type Principal } from "../core/auth";
import { contextFromNode } from "./context";
import { appRouter } from "./router";

export const WS_PATH = "/trpc";
const CLOSE_REVOKED = 4001;

export function attachWebSocket(server: Server, allowedOrigin: string) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const sockets = new Map<WebSocket, Principal["via"]>();

  const handler = applyWSSHandler({
    wss,
    router: appRouter,
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 10_000 },
    createContext: async ({ req, res, info }) => {
      const ctx = await contextFromNode(req, info.connectionParams);
      if (ctx.principal) sockets.set(res, ctx.principal.via);
      return ctx;
    },
  });
  wss.on("connection", (ws) => ws.once("close", () => sockets.delete(ws)));

  const stopListening = onRevocation((via) => {
    for (const [ws, v] of sockets) if (sameCredential(v, via)) ws.close(CLOSE_REVOKED, "Signed out");
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== WS_PATH) return socket.destroy();
    // Browsers always send Origin; a foreign page must not ride on the user's cookie.
    if (!sameOrigin(req.headers.origin, req.headers.host, allowedOrigin)) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  return {
    /** Tell clients to reconnect (graceful restart), then close. */
    async close() {
      stopListening();
      handler.broadcastReconnectNotification();
      await new Promise((r) => setTimeout(r, 100));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

function sameCredential(a: Principal["via"], b: Principal["via"]): boolean {
  if (a.kind === "session") return b.kind === "session" && a.sessionId === b.sessionId;
  return b.kind === "token" && a.tokenId === b.tokenId;
}

function sameOrigin(origin: string | undefined, host: string | undefined, allowed: string): boolean {
  if (!origin) return true; // not a browser (CLI, scripts): no ambient cookie to abuse
  if (origin === allowed) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
