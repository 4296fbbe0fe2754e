// The resource tables of the catalogue's kinds, reached generically: each kind names its
// Prisma model (`table`), and the engine and routers use only the columns every kind has
// (id, serverId, status, errorLog), so adding a kind never touches this file.
import { allKinds, resourceKind } from "../catalogue";
import type { ResourceKind, ResourceRowBase } from "../catalogue/kit";
import type { TaskStatus } from "../domain/status";
import { db, type PrismaClient } from "./db";

type Client = Omit<PrismaClient, `$${string}`>;

export type ResourceRow = ResourceRowBase & { status: TaskStatus } & Record<string, unknown>;

type StatusWhere = { id: string; serverId?: string; status?: TaskStatus | { in: TaskStatus[] } };

/** The delegate methods the engine uses, with the columns every resource table has. */
export interface ResourceTable {
  findUnique(args: { where: { id: string } }): Promise<ResourceRow | null>;
  findFirst(args: { where: Record<string, unknown> }): Promise<ResourceRow | null>;
  findMany(args: {
    where: { serverId: string } & Record<string, unknown>;
    orderBy: { createdAt: "asc" | "desc" } | [{ createdAt: "asc" | "desc" }, { id: "asc" | "desc" }];
  }): Promise<ResourceRow[]>;
  create(args: { data: Record<string, unknown> }): Promise<ResourceRow>;
  updateMany(args: {
    where: StatusWhere;
    data: { status?: TaskStatus; errorLog?: string | null } & Record<string, unknown>;
  }): Promise<{ count: number }>;
  deleteMany(args: { where: { id: string } }): Promise<{ count: number }>;
}

export function kindOf(type: string): ResourceKind {
  const kind = resourceKind(type);
  if (!kind) throw new Error(`Unknown resource type ${JSON.stringify(type)}`);
  return kind;
}

/** The kind whose Prisma model is `table` (a kind's `related.parent`, an effect's target). */
export function kindOfTable(table: string): ResourceKind {
  const kind = allKinds().find((k) => k.table === table);
  if (!kind) throw new Error(`No resource kind has the table ${JSON.stringify(table)}`);
  return kind;
}

/** The table of a kind (or of a resource type), on the default client or inside a transaction. */
export function resourceTable(kind: ResourceKind | string, client: Client = db()): ResourceTable {
  const { table } = typeof kind === "string" ? kindOf(kind) : kind;
  const delegates: Record<string, unknown> = client;
  const delegate = delegates[table];
  if (!isTable(delegate)) throw new Error(`No Prisma model "${table}" for a resource kind`);
  return delegate;
}

// Prisma's delegates are generic over their arguments; at runtime each one is exactly this.
function isTable(value: unknown): value is ResourceTable {
  return typeof value === "object" && value !== null && "findUnique" in value && "updateMany" in value && "deleteMany" in value;
}
