// The API: fixed routers, plus one generated router per resource kind in the catalogue
// (packages, firewall, scheduler, supervisor…), keyed by the kind's `api` name.
import { ALL_KINDS, registeredKinds } from "../catalogue";
import type { ResourceKind } from "../catalogue/kit";
import { authRouter } from "./routers/auth";
import { liveRouter } from "./routers/live";
import { operationsRouter } from "./routers/operations";
import { packagesRouter } from "./routers/packages";
import { resourceRouter } from "./routers/resources";
import { serversRouter } from "./routers/servers";
import { deploymentsRouter, siteCommandsRouter, sitesRouter } from "./routers/sites";
import { tokensRouter } from "./routers/tokens";
import { createCallerFactory, router } from "./init";

/** `{ firewall: router, scheduler: router, … }` from the catalogue's kinds, typed per kind. */
function kindRouters<const T extends readonly ResourceKind[]>(kinds: T) {
  type Routers = { [K in T[number] as K["api"]]: ReturnType<typeof resourceRouter<K>> };
  const routers: Partial<Record<string, ReturnType<typeof resourceRouter>>> = {};
  for (const kind of [...kinds, ...registeredKinds()]) routers[kind.api] = resourceRouter(kind);
  return routers as Routers; // one entry per kind, built from the same list the type maps over
}

export const appRouter = router({
  auth: authRouter,
  tokens: tokensRouter,
  servers: serversRouter,
  operations: operationsRouter,
  live: liveRouter,
  ...kindRouters(ALL_KINDS),
  // The packages kind's generated router plus its own procedures (list details, secret reveal).
  packages: packagesRouter,
  // Sites, deployments and site commands are kinds of the engine with routers of their own
  // (ownership through the site, deploy collapsing, the .env and the deploy token).
  sites: sitesRouter,
  deployments: deploymentsRouter,
  siteCommands: siteCommandsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
