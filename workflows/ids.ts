// Workflow ids are business keys: an operator finds a server's work by its id in the Temporal UI.
export const serverWorkflowPrefix = (serverId: string) => `server-${serverId}`;
export const testConnectionWorkflowId = (serverId: string, operationId: string) =>
  `${serverWorkflowPrefix(serverId)}/test-connection-${operationId}`;
