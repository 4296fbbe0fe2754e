// `npm run dev`: the whole app on embedded defaults. PostgreSQL and Temporal (with its UI)
// under .data/, migrations applied, the Remix build, then the web server and the worker.
// Ctrl-C stops everything; data persists for the next run.
import { spawn, type ChildProcess } from "node:child_process";
import { Connection } from "@temporalio/client";
import { waitFor } from "./infra/ports";
import { devSecrets, startLocalStack } from "./local-stack";

const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? "127.0.0.1";

const stack = await startLocalStack({
  pgPort: Number(process.env.BROKEFORGE_PG_PORT ?? 54329),
  temporalPort: 7233,
  temporalUiPort: 8233,
});

const env = {
  ...process.env,
  ...(await devSecrets()),
  NODE_ENV: process.env.NODE_ENV ?? "development",
  DATABASE_URL: stack.DATABASE_URL,
  TEMPORAL_ADDRESS: stack.TEMPORAL_ADDRESS,
  TEMPORAL_UI_URL: stack.TEMPORAL_UI_URL,
  HOST,
  PORT: String(PORT),
};

const children: ChildProcess[] = [];
let stopping = false;

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
  await stack.stop();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

function run(name: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { env, stdio: "inherit" });
  children.push(child);
  child.once("exit", (code) => {
    if (!stopping) {
      console.error(`[dev] ${name} exited with ${code}; stopping everything`);
      void shutdown(code || 1);
    }
  });
  return child;
}

console.log("[dev] building the web app (remix build)");
const build = spawn(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "build"], { env, stdio: "inherit" });
const built = await new Promise<number | null>((r) => build.once("exit", r));
if (built !== 0) await shutdown(1);

run("worker", ["--import", "tsx", "temporal/worker.ts"]);
run("web", ["--import", "tsx", "server.ts"]);

// Print where to go once the web app answers and the worker polls, below their start-up logs.
await waitFor("web app", () => fetch(`http://${HOST}:${PORT}/healthz`).then((r) => r.ok || Promise.reject(new Error(`${r.status}`))));
await waitFor("worker", () => workerPolling(stack.TEMPORAL_ADDRESS, process.env.TEMPORAL_TASK_QUEUE ?? "brokeforge"));

console.log(`
  BrokeForge      http://${HOST}:${PORT}
  Temporal UI     ${stack.TEMPORAL_UI_URL}
  Data            .data/ (PostgreSQL, Temporal history, dev secrets)
  Ctrl-C to stop.
`);

async function workerPolling(address: string, taskQueue: string): Promise<true> {
  const connection = await Connection.connect({ address });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: process.env.TEMPORAL_NAMESPACE ?? "default",
      taskQueue: { name: taskQueue },
    });
    if (!pollers?.length) throw new Error("no poller yet");
    return true;
  } finally {
    await connection.close();
  }
}
