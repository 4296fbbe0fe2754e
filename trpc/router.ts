import { authRouter } from "./routers/auth";
import { serversRouter } from "./routers/servers";
import { tokensRouter } from "./routers/tokens";
import { createCallerFactory, router } from "./init";

export const appRouter = router({
  auth: authRouter,
  tokens: tokensRouter,
  servers: serversRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
