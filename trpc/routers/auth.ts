import { protectedProcedure, publicProcedure, router } from "../init";

export const authRouter = router({
  /** The caller, or null when signed out. */
  me: publicProcedure.query(({ ctx }) => (ctx.principal ? { ...ctx.principal.user, via: ctx.principal.via.kind } : null)),
  whoami: protectedProcedure.query(({ ctx }) => ({ id: ctx.user.id, email: ctx.user.email })),
});
