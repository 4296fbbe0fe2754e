// Provisioning: turning a connected server into what its role says (app, web, database,
// worker, bare), as ONE operation on the server's queue. Its plan is nothing of its own: the
// install plans of the role's packages, in order, each an ordinary package of the kit that can
// also be installed or removed on its own later. Each package's last milestone records it in
// the inventory, so the packages page fills in as provisioning goes. A retry after a failure
// resumes at the failed milestone (`resumable`): what finished is not redone.
import type { Provisioning } from "../../generated/prisma/browser";
import { supportedOs } from "../../domain/os";
import { describeProvisioning, provisioningInputSchema, ROLES, type ServerRole } from "../../domain/roles";
import { defineResource, FieldError, secretNames, type Milestone, type Plan, type PlanContext } from "../kit";
import { packageDefinition } from "../packages";
import { firewallWebPortsMilestone } from "../packages/firewall";
import { phpVersionFor } from "../packages/php";

/** The packages of a role, in the order they are installed. */
export function rolePackages(row: Pick<Provisioning, "role" | "database">): string[] {
  const database = row.database ? [row.database] : [];
  const base = ["base", "site_user", "firewall"];
  const byRole: Record<ServerRole, string[]> = {
    bare: base,
    web: [...base, "nginx", "php", "composer", "node"],
    database: [...base, ...database],
    worker: [...base, "php", "composer", "scheduler", "supervisor"],
    app: [...base, "nginx", "php", "composer", "node", ...database, "redis", "scheduler", "supervisor"],
  };
  return byRole[row.role];
}

export function provisioningPlan(row: Pick<Provisioning, "role" | "database" | "phpVersion">, ctx: PlanContext): Plan {
  if (!ctx.server.os) throw new Error("Run the connection test first: BrokeForge does not know this server's OS yet");
  const plan: Milestone[] = [];
  for (const type of rolePackages(row)) {
    const definition = packageDefinition(type);
    if (!definition) throw new Error(`Provisioning needs the package “${type}”, which this BrokeForge does not have`);
    // The role names a PHP version (or none: the newest the server's apt offers); php.ts refuses one it does not offer.
    const variant = type === "php" ? phpVersionFor(ctx.server, row.phpVersion) : undefined;
    plan.push(...definition.install({ ...ctx, variant }));
    if (type === "firewall" && rolePackages(row).includes("nginx")) plan.push(firewallWebPortsMilestone(ctx.server.id, ctx.server.sshPort));
  }
  const names = new Set<string>();
  for (const m of plan) {
    // The engine finds a milestone by its step and checks its name: two of one name would be ambiguous in a resume.
    if (names.has(m.name)) throw new Error(`Two milestones are named ${m.name} in the ${row.role} role's plan`);
    names.add(m.name);
  }
  return plan;
}

export const provisioning = defineResource<Provisioning>()({
  type: "provisioning",
  table: "provisioning",
  entity: "provisioning",
  api: "provisioning",
  parent: "",
  label: { one: "provisioning", many: "Provisioning" },
  input: provisioningInputSchema,
  fields: [
    { key: "role", label: "ROLE" },
    { key: "phpVersion", label: "PHP", flag: "php" },
    { key: "database", label: "DATABASE" },
  ],
  // Provisioning an existing server (the overview's Provision): refused now, with the reason on
  // the field, for a server whose OS BrokeForge has not read or does not support, and for a PHP
  // version its apt does not offer. (A server added with a role gets its row from
  // core/servers.ts before any connection test; core/provisioning.ts checks the OS there.)
  create: (input, ctx) => {
    const os = ctx.server.os;
    const support = supportedOs({ osId: os?.id, osRelease: os?.release });
    if (!support.supported) throw new FieldError("role", support.message);
    if (ROLES[input.role].php) {
      try {
        phpVersionFor(ctx.server, input.phpVersion);
      } catch (err) {
        throw new FieldError("phpVersion", (err as Error).message);
      }
    }
    return { ...input };
  },
  duplicateMessage: () => "This server has its provisioning already: retry or re-run it",
  describe: (p) => `as ${describeProvisioning(p)}`,
  secrets: (row) => rolePackages(row).flatMap((type) => secretNames(packageDefinition(type) ?? { type, secrets: [] })),
  actions: {
    install: {
      label: "Provision",
      // "pending": added with a role and waiting for its first connection test (which starts it);
      // "active": re-running a finished provisioning is allowed and changes nothing on the server.
      statuses: { from: ["pending", "failed", "active"], queued: "installing" },
      resumable: true,
      // The app role is eleven packages; on a small or busy server its apt work alone took
      // 555-575 s in tests/debian/provisioning.test.ts (one package's 600 s would fail it).
      timeoutScale: 4,
      title: (row) => `Provision the server as ${describeProvisioning(row)}`,
      plan: (row, ctx) => provisioningPlan(row, ctx),
    },
    // Forgetting the provisioning uninstalls nothing: packages are removed one by one on the
    // packages page, where what depends on them is checked.
    remove: { label: "Forget", title: () => "Forget the server's provisioning", plan: () => [] },
  },
});
