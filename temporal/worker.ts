// The worker process: runs workflows and activities until SIGINT/SIGTERM.
import { exitOnEnvError, workerEnv } from "../core/env";
import { disconnectDb } from "../core/db";
import { startMaintenance } from "../activities/maintenance";
import { closeAll as closeSshConnections } from "../activities/ssh/pool";
import { registerSearchAttributes } from "./register-search-attributes";
import { createWorker } from "./worker-factory";

let env;
try {
  env = workerEnv();
} catch (e) {
  exitOnEnvError(e);
}

const added = await registerSearchAttributes(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
if (added.length) console.log(`[worker] registered search attributes: ${added.join(", ")}`);
const worker = await createWorker();
console.log(`[worker] polling task queue "${env.TEMPORAL_TASK_QUEUE}" on ${env.TEMPORAL_ADDRESS}`);
const stopMaintenance = startMaintenance();
await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
stopMaintenance();
closeSshConnections();
await disconnectDb();
