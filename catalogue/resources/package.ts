// Server packages as a resource kind: the inventory row (server_package) is the resource,
// and its install/remove plans are the package definition's (catalogue/packages/*). A package
// with variants (PHP) has one row per variant, installed and removed on its own.
import { z } from "zod";
import type { ServerPackage } from "../../generated/prisma/browser";
import { FieldError, defineResource, requirePackage, secretNames, type PlanContext } from "../kit";
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
    /** Which one of a package with variants ("8.4" for PHP); none for the others. */
    variant: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9.+~-]{1,32}$/, "Not a version")
      .optional(),
  }),
  fields: [
    { key: "type", label: "TYPE" },
    { key: "variant", label: "VARIANT" },
    { key: "name", label: "NAME", input: false },
    { key: "version", label: "VERSION", input: false },
  ],
  create: ({ type, variant }, ctx) => {
    const definition = mustFind(type);
    if (!definition.variants) {
      if (variant) throw new FieldError("variant", `${definition.label} has no ${variant}: it is not installed side by side`);
      return { type, name: definition.name, variant: "" };
    }
    // Checked against what the server's apt offered at the last connection test: a version the
    // OS does not have is refused now, not by a failed apt run later.
    const offered = ctx.server.variants?.[type] ?? [];
    const chosen = variant ?? offered[0];
    if (!chosen) throw new FieldError("variant", `This server's apt offers no ${definition.label}; run the connection test again`);
    if (!offered.includes(chosen))
      throw new FieldError(
        "variant",
        `${definition.label} ${chosen} is not offered by this server's apt (it offers ${offered.join(", ") || "none"})`,
      );
    return { type, name: definition.variants.name(chosen), variant: chosen };
  },
  duplicateMessage: ({ type, variant }) =>
    `${packageDefinition(type)?.label ?? type}${variant ? ` ${variant}` : ""} is already installed or installing`,
  describe: (p) => `${packageDefinition(p.type)?.label ?? p.type} (${p.name})`,
  secrets: (row) => secretNames(mustFind(row.type)),
  actions: {
    install: {
      label: "Install",
      plan: (row, ctx: PlanContext) => mustFind(row.type).install(withVariant(row, ctx)),
      requires: (row) => mustFind(row.type).requires.map((t) => requirePackage(t, `Install ${packageDefinition(t)?.label ?? t} first`)),
    },
    remove: { label: "Remove", plan: (row, ctx: PlanContext) => mustFind(row.type).remove(withVariant(row, ctx)) },
  },
});

function withVariant(row: ServerPackage, ctx: PlanContext): PlanContext {
  return row.variant ? { ...ctx, variant: row.variant } : ctx;
}

function mustFind(type: string) {
  const definition = packageDefinition(type);
  if (!definition) throw new Error(`Unknown package type ${JSON.stringify(type)}`);
  return definition;
}
