// Starts the test-connection workflow. The status change is written first (visible at
// once); the workflow does the SSH work and writes the outcome.
import { TRPCError } from "@trpc/server";
import { WorkflowIdReusePolicy } from "@temporalio/client";
import { operationKindKey, serverIdKey } from "../temporal/search-attributes";
import { taskQueue, temporalClient } from "../temporal/client";
import { testConnectionWorkflowId } from "../workflows/ids";
import type { TestConnectionInput } from "../workflows/test-connection";
import { db } from "./db";

export const TEST_CONNECTION_KIND = "server.test_connection";

export async function startTestConnection({ serverId, userId }: { serverId: string; userId: string }) {
  const operation = await db().$transaction(async (tx) => {
    await tx.server.update({ where: { id: serverId }, data: { connectionStatus: "connecting", connectionError: null } });
    return tx.operation.create({
      data: { serverId, userId, kind: TEST_CONNECTION_KIND, resourceType: "server", resourceId: serverId, action: "test_connection" },
    });
  });
  const workflowId = testConnectionWorkflowId(serverId, operation.id);
  try {
    const client = await temporalClient();
    const input: TestConnectionInput = { serverId, operationId: operation.id };
    const handle = await client.workflow.start("testConnectionWorkflow", {
      workflowId,
      taskQueue: taskQueue(),
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      staticSummary: `Test SSH connection to server ${serverId}`,
      typedSearchAttributes: [
        { key: serverIdKey, value: serverId },
        { key: operationKindKey, value: TEST_CONNECTION_KIND },
      ],
    });
    await db().operation.update({
      where: { id: operation.id },
      data: { workflowId, runId: handle.firstExecutionRunId },
    });
  } catch (e) {
    // Temporal unreachable: say so on the server instead of leaving it "connecting".
    const message = `Could not start the connection test: ${(e as Error).message}`;
    await db().$transaction([
      db().server.update({ where: { id: serverId }, data: { connectionStatus: "failed", connectionError: message } }),
      db().operation.update({ where: { id: operation.id }, data: { state: "failed", errorLog: message, finishedAt: new Date() } }),
    ]);
    // The same answer as a resource mutation's (core/operations.ts), not a bare 500.
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message, cause: e });
  }
  return { operationId: operation.id, workflowId };
}
