// Trivial workflows for the bench's "Temporal floor" probe: what one workflow-task round trip,
// one activity and one child workflow cost on this machine with no BrokeForge code involved.
// The engine-shaped ones (probeOperation, probeQueue) have the engine's shape exactly
// (workflows/operation.ts, workflows/server-queue.ts): an operation is a child workflow of its
// server's queue that runs a LOCAL activity (beginOperation), one ordinary activity
// (runMilestone, here: hold the peer's delay) and a LOCAL activity (completeOperation). With
// empty bodies and fewer options (no search attributes, no signals) they are a lower bound.
import { executeChild, proxyActivities, proxyLocalActivities, workflowInfo } from "@temporalio/workflow";

const { noop, hold } = proxyActivities<{ noop(): Promise<void>; hold(ms: number): Promise<void> }>({ startToCloseTimeout: "10 seconds" });
// As the engine's bookkeeping activities are (workflows/operation.ts): run inside the workflow task.
const { localNoop } = proxyLocalActivities<{ localNoop(): Promise<void> }>({ startToCloseTimeout: "30 seconds" });

/** n no-op activities one after the other: n+1 workflow tasks. */
export async function probeActivities(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await noop();
}

/** n children one after the other, each one engine-shaped operation with a 0 ms command. */
export async function probeChildren(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await executeChild(probeOperation, { workflowId: `${workflowInfo().workflowId}-c${i}`, args: [0] });
}

/** The engine's operation with trivial bodies: local begin, one command of `ms`, local complete. */
export async function probeOperation(ms: number): Promise<void> {
  await localNoop();
  await hold(ms);
  await localNoop();
}

/** A server queue with trivial operations: n children one after the other. */
export async function probeQueue(n: number, ms: number): Promise<void> {
  for (let i = 0; i < n; i++) await executeChild(probeOperation, { workflowId: `${workflowInfo().workflowId}-op${i}`, args: [ms] });
}
