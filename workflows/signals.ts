import { defineQuery, defineSignal } from "@temporalio/workflow";
import type { QueuedOperation } from "../domain/resources";

/** Add an operation to a server's queue (sent with signal-with-start). */
export const enqueueSignal = defineSignal<[QueuedOperation]>("enqueue");
/** Cancel a queued or running operation of this server. */
export const cancelSignal = defineSignal<[{ operationId: string }]>("cancel");
/** What the server is doing: the running operation and the queue behind it. */
export const queueQuery = defineQuery<{ running: string | null; queued: string[] }>("queue");
