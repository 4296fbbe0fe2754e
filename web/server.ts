// The web server: Remix pages, tRPC over HTTP (/trpc) and tRPC over ws (/trpc), one port.
// Not part of the Remix bundle; server.ts runs it, tests start it in-process.
import { createServer } from "node:http";
import { createRequestHandler } from "@remix-run/express";
import type { ServerBuild } from "@remix-run/node";
import { createExpressMiddleware } from "@trpc/server/adapters/express";
import express from "express";
import type { BrokeForgeContext } from "./load-context";
import { endSession, login, signup, startSession } from "../core/auth";
import { db } from "../core/db";
import { webEnv } from "../core/env";
import { contextFromNode, contextFromRequest } from "../trpc/context";
import { createCaller, appRouter } from "../trpc/router";
import { closeLiveHub } from "../trpc/live-hub";
import { attachWebSocket } from "../trpc/ws";
import { deployHookRouter } from "./deploy-hook";

export async function startWebServer(opts: { port?: number; host?: string } = {}) {
  const env = webEnv();
  const build = (await import(new URL("../build/index.js", import.meta.url).href)) as ServerBuild;

  const app = express();
  app.disable("x-powered-by");
  app.use("/build", express.static(new URL("../public/build", import.meta.url).pathname, { immutable: true, maxAge: "1y" }));
  app.use(express.static(new URL("../public", import.meta.url).pathname, { maxAge: "1h" }));

  // Liveness for load balancers and docker-compose: the process serves and the database answers.
  app.get("/healthz", async (_req, res) => {
    try {
      await db().$queryRaw`select 1`;
      res.json({ ok: true });
    } catch {
      res.status(503).json({ ok: false });
    }
  });

  // Sites' deploy URLs (git hosts' push webhooks): token-authorized, before tRPC and Remix.
  app.use(deployHookRouter());

  app.use("/trpc", createExpressMiddleware({ router: appRouter, createContext: ({ req }) => contextFromNode(req) }));

  const loadContext = (ip: string): BrokeForgeContext => ({
    ip,
    api: async (request) => createCaller(await contextFromRequest(request, ip)),
    currentUser: async (request) => (await contextFromRequest(request, ip)).principal?.user ?? null,
    auth: { signup, login, startSession, endSession },
    temporalUiUrl: env.TEMPORAL_UI_URL,
  });
  app.all("*", createRequestHandler({ build, getLoadContext: (req) => loadContext(req.socket.remoteAddress ?? "unknown") }));

  const server = createServer(app);
  const ws = attachWebSocket(server, new URL(env.PUBLIC_URL).origin);
  const port = opts.port ?? env.PORT;
  await new Promise<void>((resolve) => server.listen(port, opts.host ?? env.HOST, resolve));
  const address = server.address();
  const url = typeof address === "object" && address ? `http://${opts.host ?? env.HOST}:${address.port}` : env.PUBLIC_URL;

  return {
    url,
    async close() {
      await ws.close();
      await closeLiveHub();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}
