// Procedures narrowed by middleware (create-t3-app's pattern): ownership is checked here, once.
// Another user's server or resource answers NOT_FOUND, never FORBIDDEN, so ids reveal nothing.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { ResourceKind } from "../catalogue/kit";
import { db } from "../core/db";
import { resourceTable } from "../core/resources";
import { serverFactsSelect, toServerFacts } from "../core/server-facts";
import { protectedProcedure } from "./init";

export const serverIdInput = z.object({ serverId: z.string().min(1).max(64) });
export const idInput = z.object({ id: z.string().min(1).max(64) });

const notFound = (message: string) => new TRPCError({ code: "NOT_FOUND", message });

export async function ownedServer(userId: string, serverId: string) {
  // What plan builders and create hooks may know about the server (never its keys).
  const server = await db().server.findFirst({ where: { id: serverId, userId }, select: serverFactsSelect });
  if (!server) throw notFound("Server not found");
  return toServerFacts(server);
}

/** Input has `serverId`; the caller owns that server; `ctx.server` is it. */
export const serverProcedure = protectedProcedure.input(serverIdInput).use(async ({ ctx, input, next }) => {
  const server = await ownedServer(ctx.user.id, input.serverId);
  return next({ ctx: { server } });
});

/** `serverProcedure` whose input also has the fields of `schema` (a create form's). */
export function serverProcedureWith<S extends z.ZodType>(schema: S) {
  return protectedProcedure.input(z.intersection(serverIdInput, schema)).use(async ({ ctx, input, next }) => {
    const server = await ownedServer(ctx.user.id, input.serverId);
    return next({ ctx: { server } });
  });
}

/** Input has the `id` of a resource of `kind` on one of the caller's servers; `ctx.row` is it. */
export function resourceProcedure(kind: ResourceKind) {
  return protectedProcedure.input(idInput).use(async ({ ctx, input, next }) => {
    const row = await resourceTable(kind).findUnique({ where: { id: input.id } });
    if (!row) throw notFound("Not found");
    const server = await ownedServer(ctx.user.id, row.serverId).catch(() => {
      throw notFound("Not found");
    });
    return next({ ctx: { row, server } });
  });
}

/** What an owned row is looked up by: its id, and its server's owner being the caller. */
export type OwnedWhere = { id: string; server: { userId: string } };

/**
 * Input has `key` (default `id`): the id of a row of a table whose rows belong to a server (a
 * site, a deployment, a site command); `ctx.row` is that row, with its own Prisma type, when its
 * server is the caller's — one query, the owner in its `where`. Otherwise NOT_FOUND `<what> not
 * found`, as for a row that does not exist. More input fields are added with `.input(...)`.
 */
export function ownedRowProcedure<Row, K extends string = "id">(what: string, find: (where: OwnedWhere) => Promise<Row | null>, key?: K) {
  const field = (key ?? "id") as K;
  const input = z.object({ [field]: z.string().min(1).max(64) } as { [P in K]: z.ZodString });
  return protectedProcedure.input(input).use(async ({ ctx, input, next }) => {
    const row = await find({ id: (input as Record<K, string>)[field], server: { userId: ctx.user.id } });
    if (!row) throw notFound(`${what} not found`);
    return next({ ctx: { row } });
  });
}
