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
const graceSeconds = shutdownGraceSeconds(process.env.WORKER_SHUTDOWN_GRACE_SECONDS);

const added = await registerSearchAttributes(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE);
if (added.length) console.log(`[worker] registered search attributes: ${added.join(", ")}`);
// On SIGINT/SIGTERM the SDK stops polling and lets running activities finish for up to the grace
// time; meanwhile they keep heartbeating, so a user's cancel still reaches a running command.
// A milestone still running when the grace time ends is cancelled (reason WORKER_SHUTDOWN): its
// AbortSignal stops the remote command (activities/ssh: the lifeline sends TERM, then KILL), the
// attempt fails as cancelled, and Temporal retries the milestone under the operation's retry
// policy (a transport-style retry: it does not count toward the 3 real command failures) on the
// next worker that polls, which today runs it again from its first command (making the remote
// script outlive the worker and be re-attached on retry is a separate change). If the process is
// killed before the grace time ends (SIGKILL, a container's stop timeout), nothing is cancelled:
// the SSH connection drops, which ends the remote command (the lifeline's EOF), and the attempt
// is retried after its 20 s heartbeat timeout.
// shutdownForceTime bounds an activity that ignores cancellation, so the process always exits.
const worker = await createWorker({
  shutdownGraceTime: `${graceSeconds} seconds`,
  shutdownForceTime: `${graceSeconds + 10} seconds`,
});
console.log(`[worker] polling task queue "${env.TEMPORAL_TASK_QUEUE}" on ${env.TEMPORAL_ADDRESS}`);
const stopMaintenance = startMaintenance();
// `npm run dev` supervises this process over IPC: tell it we are up (no channel in production).
process.send?.({ type: "ready" });
try {
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
} finally {
  stopMaintenance();
  closeSshConnections();
  await disconnectDb();
  // Let the process end (an open IPC channel would otherwise keep it alive).
  if (process.connected) process.disconnect();
}

/** WORKER_SHUTDOWN_GRACE_SECONDS: whole seconds, 0–3600, default 30. */
function shutdownGraceSeconds(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return 30;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 3600) {
    console.error(`Invalid environment:\n  WORKER_SHUTDOWN_GRACE_SECONDS: must be a whole number of seconds from 0 to 3600 (got "${raw}")`);
    process.exit(78); // EX_CONFIG, as core/env.ts does for the other variables
  }
  return n;
}
