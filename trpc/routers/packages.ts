// The packages kind's router: the generated procedures of every kind (create, retry, remove),
// a list whose rows also say what their removal does and what still needs them, and the
// owner's explicit reveal of a package's generated secret.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { packageDefinition } from "../../catalogue";
import { secretNames, type Plan, type ServerFacts } from "../../catalogue/kit";
import { serverPackage } from "../../catalogue/resources/package";
import { db } from "../../core/db";
import { dependentsOf } from "../../core/dependents";
import { SECRET_NAME, revealSecret, secretNamesOf } from "../../core/secrets";
import type { ServerPackage } from "../../generated/prisma/browser";
import { router } from "../init";
import { resourceProcedure, serverProcedure } from "../procedures";
import { resourceProcedures } from "./resources";

/** What a removal does, in the words of its plan: each milestone's label and its steps' labels. */
export interface RemovalStep {
  label: string;
  steps: string[];
}

/**
 * The remove plan's labels for this row, as the confirmation shows them ("Removing PostgreSQL
 * and its databases"): the definition says what goes, in one place. Labels only: a step's argv
 * could carry anything, its label is words. null when the plan cannot be built here (it would
 * need something only the engine has); the confirmation then says less, the removal is the same.
 */
function removalOf(row: ServerPackage, server: ServerFacts): RemovalStep[] | null {
  const definition = packageDefinition(row.type);
  if (!definition) return null;
  let plan: Plan;
  try {
    plan = definition.remove({ server, ...(row.variant ? { variant: row.variant } : {}) });
  } catch {
    return null;
  }
  return plan.map((m) => ({ label: m.label, steps: m.steps.map((s) => s.label) }));
}

export const packagesRouter = router({
  ...resourceProcedures(serverPackage),

  /**
   * The server's package rows, each with `requiredBy` (what still needs it: removing it is
   * refused while this is not empty), `removal` (what removing it does) and `secrets` (the
   * names of its generated secrets stored so far; never their values).
   */
  list: serverProcedure.query(async ({ ctx }) => {
    const [rows, stored] = await Promise.all([
      db().serverPackage.findMany({ where: { serverId: ctx.server.id }, orderBy: { createdAt: "asc" } }),
      secretNamesOf(ctx.server.id),
    ]);
    return Promise.all(
      rows.map(async (row) => {
        const definition = packageDefinition(row.type);
        return {
          ...row,
          requiredBy: await dependentsOf(row.serverId, row.type, row.variant),
          removal: removalOf(row, ctx.server),
          secrets: definition ? secretNames(definition).filter((name) => stored.includes(name)) : [],
        };
      }),
    );
  }),

  /**
   * One generated secret of the package in clear, for its owner (the middleware's ownership
   * check). A mutation, so nothing caches or prefetches it: the browser keeps it in the
   * component that asked, until the page is left. Never logged.
   */
  revealSecret: resourceProcedure(serverPackage)
    .input(z.object({ name: z.string().max(100).regex(SECRET_NAME, "Not a secret name") }))
    .mutation(async ({ ctx, input }) => {
      const row = ctx.row as ServerPackage; // the package kind's table
      const definition = packageDefinition(row.type);
      // Only this package's own secrets: a row of Redis does not open MariaDB's password.
      if (!definition || !secretNames(definition).includes(input.name)) {
        throw new TRPCError({ code: "NOT_FOUND", message: `${definition?.label ?? row.type} has no secret ${input.name}` });
      }
      const value = await revealSecret(row.serverId, input.name);
      if (value === null) {
        throw new TRPCError({
          code: "NOT_FOUND",
          message: `${input.name} has not been generated yet: it is made when ${definition.label} is installed`,
        });
      }
      return { name: input.name, value };
    }),
});
