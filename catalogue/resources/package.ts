// Server packages as a resource kind: the inventory row (server_package) is the resource,
// and its install/remove plans are the package definition's (catalogue/packages/*).
import { z } from "zod";
import type { ServerPackage } from "../../generated/prisma/browser";
import { defineResource, requirePackage, type PlanContext } from "../kit";
import { allPackages, packageDefinition } from "../packages";

export const serverPackage = defineResource<ServerPackage>()({
  type: "package",
  table: "serverPackage",
  entity: "server_package",
  api: "packages",
  parent: "",
  label: { one: "package", many: "Packages" },
  input: z.object({
    type: z.string().refine((t) => packageDefinition(t) !== undefined, {
      message: `Choose ${allPackages()
        .map((p) => p.type)
        .join(", ")}`,
    }),
  }),
  fields: [
    { key: "type", label: "TYPE" },
    { key: "name", label: "NAME", input: false },
    { key: "version", label: "VERSION", input: false },
  ],
  create: ({ type }) => ({ type, name: mustFind(type).name }),
  duplicateMessage: ({ type }) => `${mustFind(type).name} is already installed or installing`,
  describe: (p) => `${packageDefinition(p.type)?.label ?? p.type} (${p.name})`,
  actions: {
    install: {
      label: "Install",
      plan: (row, ctx: PlanContext) => mustFind(row.type).install(ctx),
      requires: (row) => mustFind(row.type).requires.map((t) => requirePackage(t, `Install ${packageDefinition(t)?.label ?? t} first`)),
    },
    remove: { label: "Remove", plan: (row, ctx: PlanContext) => mustFind(row.type).remove(ctx) },
  },
});

function mustFind(type: string) {
  const definition = packageDefinition(type);
  if (!definition) throw new Error(`Unknown package type ${JSON.stringify(type)}`);
  return definition;
}
