// Builds a worker for our workflows and activities. Used by the worker process and by
// tests that run a worker in-process against the real Temporal dev server.
import { fileURLToPath } from "node:url";
import { NativeConnection, Worker, type WorkerOptions } from "@temporalio/worker";
import * as activities from "../activities";
import { sharedEnv } from "../core/env";

export const WORKFLOWS_PATH = fileURLToPath(new URL("../workflows/index.ts", import.meta.url));

export async function createWorker(overrides: Partial<WorkerOptions> = {}): Promise<Worker> {
  const env = sharedEnv();
  const connection = await NativeConnection.connect({ address: env.TEMPORAL_ADDRESS });
  return Worker.create({
    connection,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    ...(overrides.workflowBundle ? {} : { workflowsPath: WORKFLOWS_PATH }),
    activities,
    // Heartbeats carry cancellation to a running command: send them promptly (default would
    // throttle to 80% of the 20 s heartbeat timeout, delaying a user's cancel by ~16 s).
    maxHeartbeatThrottleInterval: "1 second",
    ...overrides,
  });
}
