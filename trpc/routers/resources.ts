// One router per resource kind, generated from its catalogue definition: list, create, retry,
// and one mutation per action the kind declares (remove, pause, resume, restart…).
import type { z } from "zod";
import type { ResourceKind } from "../../catalogue/kit";
import { resourceTable } from "../../core/resources";
import type { Action } from "../../domain/resources";
import { createResource, startAction } from "../lifecycle";
import { resourceProcedure, serverProcedureWith, serverProcedure } from "../procedures";
import { router } from "../init";

/** The row type a kind's builders take (its Prisma model). */
type RowOf<K extends ResourceKind> = Parameters<K["describe"]>[0];
/** The extra mutations a kind declares besides install (which is create and retry). */
type ExtraActions<K extends ResourceKind> = Exclude<Extract<keyof K["actions"], Action>, "install">;

function actionMutation(kind: ResourceKind, action: Action, isRetry = false) {
  return resourceProcedure(kind).mutation(({ ctx }) => startAction(kind, { userId: ctx.user.id, row: ctx.row, action, isRetry }));
}
type ActionMutation = ReturnType<typeof actionMutation>;

export function resourceRouter<K extends ResourceKind>(kind: K) {
  return router(resourceProcedures(kind));
}

/** The procedures of `resourceRouter`, for a kind whose router adds its own (packages: trpc/routers/packages.ts). */
export function resourceProcedures<K extends ResourceKind>(kind: K) {
  const extra = {} as Record<ExtraActions<K>, ActionMutation>;
  for (const action of Object.keys(kind.actions) as ExtraActions<K>[]) {
    if (action !== "install") extra[action] = actionMutation(kind, action);
  }
  return {
    list: serverProcedure.query(async ({ ctx }) => {
      const rows = await resourceTable(kind).findMany({ where: { serverId: ctx.server.id }, orderBy: { createdAt: "asc" } });
      return rows as RowOf<K>[]; // the kind's own table: its rows are its Row type
    }),
    create: serverProcedureWith(kind.input as K["input"] & z.ZodType).mutation(async ({ ctx, input }) => {
      const { row, operationId } = await createResource(kind, { userId: ctx.user.id, server: ctx.server, input });
      return { ...(row as RowOf<K>), operationId };
    }),
    retry: actionMutation(kind, "install", true),
    ...extra,
  };
}
