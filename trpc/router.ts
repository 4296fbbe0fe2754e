import { authRouter } from "./routers/auth";
import { firewallRouter } from "./routers/firewall";
import { liveRouter } from "./routers/live";
import { operationsRouter } from "./routers/operations";
import { packagesRouter } from "./routers/packages";
import { schedulerRouter } from "./routers/scheduler";
import { serversRouter } from "./routers/servers";
import { supervisorRouter } from "./routers/supervisor";
import { tokensRouter } from "./routers/tokens";
import { createCallerFactory, router } from "./init";

export const appRouter = router({
  auth: authRouter,
  tokens: tokensRouter,
  servers: serversRouter,
  packages: packagesRouter,
  firewall: firewallRouter,
  scheduler: schedulerRouter,
  supervisor: supervisorRouter,
  operations: operationsRouter,
  live: liveRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
