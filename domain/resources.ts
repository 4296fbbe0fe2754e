// Resource kinds the operation engine manages, and what each action does to their status.
// Shared by UI, tRPC, workflows and activities (no server imports).
import type { TaskStatus } from "./status";

export const RESOURCE_TYPES = ["package", "firewall_rule", "scheduled_task", "supervisor_program"] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const ACTIONS = ["install", "remove", "pause", "resume", "restart"] as const;
export type Action = (typeof ACTIONS)[number];

/** Status while the action runs, and after it succeeds (null: the row is deleted). */
export const ACTION_STATUS: Record<Action, { during: TaskStatus; success: TaskStatus | null }> = {
  install: { during: "installing", success: "active" },
  remove: { during: "removing", success: null },
  pause: { during: "updating", success: "paused" },
  resume: { during: "updating", success: "active" },
  restart: { during: "updating", success: "active" },
};

/** Which statuses an action may start from (anything else is busy or makes no sense). */
export const ACTION_FROM: Record<Action, readonly TaskStatus[]> = {
  install: ["failed"], // a retry; a new resource starts as pending
  remove: ["active", "failed", "paused", "success"],
  pause: ["active"],
  resume: ["paused"],
  restart: ["active"],
};

export const PACKAGE_TYPES = ["firewall", "scheduler", "supervisor"] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];

/** What the engine puts in the queue for one operation. */
export interface QueuedOperation {
  operationId: string;
  serverId: string;
  kind: string; // "<resourceType>.<action>"
  resourceType: ResourceType;
  resourceId: string;
  action: Action;
  timeoutSeconds: number;
}
