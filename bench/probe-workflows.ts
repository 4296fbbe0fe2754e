// Trivial workflows for the bench's "Temporal floor" probe: what one workflow-task round trip,
// one activity and one child workflow cost on this machine with no BrokeForge code involved.
import { executeChild, proxyActivities, workflowInfo } from "@temporalio/workflow";

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: "10 seconds" });

/** n no-op activities one after the other: n+1 workflow tasks. */
export async function probeActivities(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await noop();
}

export async function probeChild(): Promise<void> {
  await noop();
}

/** n children one after the other, each running one no-op activity (the engine's shape, minus 2 activities). */
export async function probeChildren(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await executeChild(probeChild, { workflowId: `${workflowInfo().workflowId}-c${i}` });
}

const { hold } = proxyActivities<{ hold(ms: number): Promise<void> }>({ startToCloseTimeout: "10 seconds" });

/** The engine's shape with trivial bodies: begin, one command of `ms`, complete. */
export async function probeOperation(ms: number): Promise<void> {
  await noop();
  await hold(ms);
  await noop();
}

/** A server queue with trivial operations: n children one after the other. */
export async function probeQueue(n: number, ms: number): Promise<void> {
  for (let i = 0; i < n; i++) await executeChild(probeOperation, { workflowId: `${workflowInfo().workflowId}-op${i}`, args: [ms] });
}
