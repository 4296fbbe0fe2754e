// Status enums shared by UI, tRPC, workflows and activities (mirrors prisma/schema.prisma).
export const CONNECTION_STATUSES = ["unknown", "connecting", "connected", "failed"] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** The seeds' status enum, shared by every server resource. */
export const TASK_STATUSES = ["pending", "installing", "active", "success", "failed", "updating", "removing", "paused"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const OPERATION_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type OperationState = (typeof OPERATION_STATES)[number];
