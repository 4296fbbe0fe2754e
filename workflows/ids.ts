// Workflow ids are business keys: an operator finds a server's work by its id in the Temporal UI.
export const serverWorkflowId = (serverId: string) => `server-${serverId}`;
export const operationWorkflowId = (serverId: string, operationId: string) => `server-${serverId}/op-${operationId}`;
export const testConnectionWorkflowId = (serverId: string, operationId: string) => `server-${serverId}/test-connection-${operationId}`;
