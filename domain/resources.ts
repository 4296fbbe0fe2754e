// The actions the operation engine runs on resources, and what each does to their status.
// Which kinds exist is the catalogue's business (catalogue/index.ts). Shared by UI, tRPC,
// workflows and activities (no server imports).
import type { TaskStatus } from "./status";

// rollback: a deployment's release becomes the live one again; update: a resource's settings
// are written to the server again (a site's .env and server block); prune: what a resource keeps
// beyond its retention goes (a site's old release directories).
export const ACTIONS = ["install", "remove", "pause", "resume", "restart", "rollback", "update", "prune"] as const;
export type Action = (typeof ACTIONS)[number];

/** Status while the action runs, and after it succeeds (null: the row is deleted). */
export const ACTION_STATUS: Record<Action, { during: TaskStatus; success: TaskStatus | null }> = {
  install: { during: "installing", success: "active" },
  remove: { during: "removing", success: null },
  pause: { during: "updating", success: "paused" },
  resume: { during: "updating", success: "active" },
  restart: { during: "updating", success: "active" },
  rollback: { during: "updating", success: "success" },
  update: { during: "updating", success: "active" },
  prune: { during: "updating", success: "active" },
};

/** Which statuses an action may start from (anything else is busy or makes no sense). */
export const ACTION_FROM: Record<Action, readonly TaskStatus[]> = {
  install: ["failed"], // a retry; a new resource starts as pending
  remove: ["active", "failed", "paused", "success"],
  pause: ["active"],
  resume: ["paused"],
  restart: ["active"],
  rollback: ["success"],
  update: ["active", "failed"],
  // Not from failed: its success would make "active" a site whose last update failed.
  prune: ["active"],
};

/** The statuses one action moves a resource through (the seeds' lifecycles). */
export interface ActionStatuses {
  /** It may start from these (anything else is busy or makes no sense). */
  from: readonly TaskStatus[];
  /** From the click until the engine picks the operation up. */
  queued: TaskStatus;
  /** While its milestones run. */
  during: TaskStatus;
  /** After it succeeds; null: the row is deleted. */
  success: TaskStatus | null;
}

/** The standard lifecycle of each action; a kind's action may override parts of it. */
export function standardStatuses(action: Action): ActionStatuses {
  return { from: ACTION_FROM[action], queued: QUEUED_STATUS[action], ...ACTION_STATUS[action] };
}

/** Status shown from the click until the engine picks the operation up. */
export const QUEUED_STATUS: Record<Action, TaskStatus> = {
  install: "pending",
  remove: "removing",
  pause: "updating",
  resume: "updating",
  restart: "updating",
  rollback: "updating",
  update: "updating",
  prune: "updating",
};

/**
 * What the engine puts in the queue for one operation. Only `operationId` is acted on:
 * activities load the operation row and derive server, resource and action from it; the
 * rest names the workflow in the Temporal UI (summary, search attributes).
 */
export interface QueuedOperation {
  operationId: string;
  serverId: string;
  kind: string; // "<resourceType>.<action>"
  title: string;
  resourceType: string;
  resourceId: string;
  action: Action;
  timeoutSeconds: number;
}
