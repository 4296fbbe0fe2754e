// Generic access to the status-bearing resource tables, so the engine treats firewall rules,
// scheduled tasks, supervisor programs and packages alike.
import type { ResourceType } from "../domain/resources";
import type { TaskStatus } from "../domain/status";
import { db, type PrismaClient } from "./db";

type Tables = Pick<PrismaClient, "serverPackage" | "firewallRule" | "scheduledTask" | "supervisorProgram">;

export interface ResourceRow {
  id: string;
  serverId: string;
  status: TaskStatus;
  errorLog: string | null;
}

interface ResourceTable {
  findUnique(args: { where: { id: string } }): Promise<(ResourceRow & Record<string, unknown>) | null>;
  updateMany(args: { where: { id: string; status?: TaskStatus | { in: TaskStatus[] } }; data: { status?: TaskStatus; errorLog?: string | null } }): Promise<{ count: number }>;
  deleteMany(args: { where: { id: string } }): Promise<{ count: number }>;
}

/** The table of a resource type, on the default client or inside a transaction (`tx`). */
export function resourceTable(type: ResourceType, client: Tables = db()): ResourceTable {
  const tables = {
    package: client.serverPackage,
    firewall_rule: client.firewallRule,
    scheduled_task: client.scheduledTask,
    supervisor_program: client.supervisorProgram,
  } as const;
  // The four delegates share this shape; Prisma's generated types differ only in extra columns.
  return tables[type] as unknown as ResourceTable;
}
