import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { fieldErrorsOf, type FieldErrors } from "../domain/schemas";
import type { Context } from "./context";

// superjson on the wire (HTTP and ws): outputs keep their Dates (and bigint, Map, Set), so a
// procedure's output type is the same in a loader (server-side caller), the browser and scripts.
// Every client link must pass the same transformer.
const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Validation failures carry per-field messages the forms render next to inputs.
    const fieldErrors: FieldErrors | null = error.cause instanceof ZodError ? fieldErrorsOf(error.cause) : null;
    return { ...shape, data: { ...shape.data, stack: undefined, fieldErrors } };
  },
});

export const router = t.router;
export const publicProcedure = t.procedure;
export const createCallerFactory = t.createCallerFactory;

/** Signed-in user (session or API token). Every data procedure builds on this. */
export const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.principal) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in or pass an API token" });
  return next({ ctx: { ...ctx, principal: ctx.principal, user: ctx.principal.user } });
});
