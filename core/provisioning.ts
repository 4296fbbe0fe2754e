// Starting a server's provisioning once BrokeForge knows the server: a server added with a role
// has its Provisioning row `pending` until its first successful connection test, which calls
// this (activities/connection.ts). Starting is the same atomic move as a click on "Provision"
// (pending → installing, so a repeated connection test or activity retry cannot start it twice),
// then the operation goes on the server's queue like any other.
import { operationTitle } from "../catalogue/kit";
import { provisioning } from "../catalogue/resources/provisioning";
import { supportedOs } from "../domain/os";
import { db } from "./db";
import { enqueueOperation } from "./operations";

/** The operation that now provisions the server, or why nothing was started. */
export async function startPendingProvisioning(serverId: string): Promise<{ operationId: string } | { skipped: string }> {
  const row = await db().provisioning.findUnique({ where: { serverId } });
  if (!row) return { skipped: "no role was chosen for this server" };
  if (row.status !== "pending") return { skipped: `provisioning is ${row.status}` };
  const server = await db().server.findUniqueOrThrow({
    where: { id: serverId },
    select: { userId: true, osId: true, osRelease: true, osName: true },
  });
  // An OS BrokeForge does not support gets its message on the overview and no provisioning.
  const os = supportedOs(server);
  if (!os.supported) return { skipped: os.message };
  const { count } = await db().provisioning.updateMany({ where: { id: row.id, status: "pending" }, data: { status: "installing" } });
  if (count === 0) return { skipped: "provisioning was started meanwhile" };
  return enqueueOperation({
    userId: server.userId,
    serverId,
    title: operationTitle(provisioning, "install", row),
    resourceType: provisioning.type,
    resourceId: row.id,
    action: "install",
    previousStatus: "pending",
    createdResource: false,
  });
}
