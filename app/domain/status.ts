// Status enums shared by UI, tRPC, workflows and activities (mirrors prisma/schema.prisma).
export const CONNECTION_STATUSES = ["unknown", "connecting", "connected", "failed"] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

export const OPERATION_STATUSES = [
  "pending",
  "installing",
  "active",
  "success",
  "failed",
  "updating",
  "removing",
  "paused",
] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
