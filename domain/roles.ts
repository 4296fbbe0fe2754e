// What a server is for, picked when it is added (as in Forge). Browser-safe: the add-server
// form, tRPC and the provisioning kind (catalogue/resources/provisioning.ts) share it.
import { z } from "zod";

export const SERVER_ROLES = ["app", "web", "database", "worker", "bare"] as const;
export type ServerRole = (typeof SERVER_ROLES)[number];

export const DATABASE_ENGINES = ["mariadb", "postgresql"] as const;
export type DatabaseEngine = (typeof DATABASE_ENGINES)[number];

export const DATABASE_LABELS: Record<DatabaseEngine, string> = {
  mariadb: "MariaDB (Debian's MySQL-compatible server)",
  postgresql: "PostgreSQL",
};

export interface RoleInfo {
  label: string;
  description: string;
  /** The role runs PHP (the form asks for its version). */
  php: boolean;
  /** The role runs a database server (the form asks for its engine). */
  database: boolean;
}

export const ROLES: Record<ServerRole, RoleInfo> = {
  app: {
    label: "App server",
    description: "nginx, PHP, Composer, Node, a database, Redis, scheduler and supervisor",
    php: true,
    database: true,
  },
  web: { label: "Web server", description: "nginx, PHP, Composer and Node", php: true, database: false },
  database: { label: "Database server", description: "a database server only", php: false, database: true },
  worker: { label: "Worker server", description: "PHP, scheduler and supervisor for queue workers", php: true, database: false },
  bare: {
    label: "Bare server",
    description: "the hardened base only (firewall, fail2ban, updates, the brokeforge user)",
    php: false,
    database: false,
  },
};

/** "8.2": what the PHP version field accepts (whether the server offers it is checked when it runs). */
export const phpVersionSchema = z
  .string()
  .trim()
  .regex(/^\d{1,2}\.\d{1,2}$/, "Use a PHP version like 8.2");

/**
 * The provisioning choices. PHP version empty = the newest the server's OS offers; the
 * database engine defaults to MariaDB for roles that have one; fields a role does not use are
 * dropped, so a stored row never claims a database the server will not get.
 */
export const provisioningInputSchema = z
  .object({
    role: z.enum(SERVER_ROLES, { message: `Choose a role: ${SERVER_ROLES.join(", ")}` }),
    phpVersion: z.union([phpVersionSchema, z.literal("").transform(() => null), z.null()]).optional(),
    database: z.enum(DATABASE_ENGINES, { message: "Choose MariaDB or PostgreSQL" }).nullable().optional(),
  })
  .transform(({ role, phpVersion, database }) => ({
    role,
    phpVersion: ROLES[role].php ? (phpVersion ?? null) : null,
    database: ROLES[role].database ? (database ?? "mariadb") : null,
  }));
export type ProvisioningInput = z.output<typeof provisioningInputSchema>;

/** "App server (PHP 8.2, MariaDB)". */
export function describeProvisioning(p: { role: ServerRole; phpVersion: string | null; database: DatabaseEngine | null }): string {
  const parts = [
    ROLES[p.role].php ? `PHP ${p.phpVersion ?? "newest"}` : null,
    p.database ? (p.database === "mariadb" ? "MariaDB" : "PostgreSQL") : null,
  ].filter(Boolean);
  return `${ROLES[p.role].label}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}
