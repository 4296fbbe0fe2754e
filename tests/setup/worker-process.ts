// Runs the real worker entry point (temporal/worker.ts) as a SEPARATE process, so a test can
// kill -9 it like a crashed machine would. It gets the test's environment (same database,
// Temporal address, task queue and encryption key, so it can decrypt the servers' keys).
// Every process started here is tracked: call killAllWorkerProcesses() in afterAll.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PASSED_ENV = [
  "PATH",
  "HOME",
  "TMPDIR",
  "NODE_ENV",
  "DATABASE_URL",
  "TEMPORAL_ADDRESS",
  "TEMPORAL_NAMESPACE",
  "TEMPORAL_TASK_QUEUE",
  "BROKEFORGE_ENCRYPTION_KEY",
  "OPERATION_TIMEOUT_SECONDS",
];

export interface WorkerProcess {
  pid: number;
  child: ChildProcess;
  /** Last lines the worker printed (for failure messages). */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
// Last resort if the test process dies without afterAll: don't leave workers polling.
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export async function startWorkerProcess({ readyTimeoutMs = 90_000 } = {}): Promise<WorkerProcess> {
  const env = Object.fromEntries(
    PASSED_ENV.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]),
  ) as NodeJS.ProcessEnv;
  const argv = [process.execPath, "--import", "tsx", "temporal/worker.ts"];
  // If the test process itself is SIGKILLed, the kernel kills the worker too (setpriv execs
  // node, so the child pid is the worker itself), as scripts/infra/temporal.ts does for Temporal.
  const setpriv = process.platform === "linux" ? findSetpriv() : undefined;
  const [command, args] = setpriv ? [setpriv, ["--pdeathsig", "SIGKILL", "--", ...argv]] : [argv[0]!, argv.slice(1)];
  const child = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let log = "";
  const append = (b: Buffer) => (log = (log + b.toString()).slice(-20_000));
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );

  const proc: WorkerProcess = {
    pid: child.pid!,
    child,
    output: () => log,
    exited,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };

  // Ready once it says it polls the task queue (after bundling the workflows: a few seconds).
  const deadline = Date.now() + readyTimeoutMs;
  while (!log.includes("[worker] polling task queue")) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`worker process exited early:\n${log}`);
    if (Date.now() > deadline) {
      await proc.kill();
      throw new Error(`worker process not ready within ${readyTimeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return proc;
}

/** SIGKILL every worker process still running (afterAll, also after a failed test). */
export async function killAllWorkerProcesses(): Promise<void> {
  await Promise.all(
    [...live].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGKILL");
        }),
    ),
  );
}

function findSetpriv(): string | undefined {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .map((d) => path.join(d, "setpriv"))
    .find((f) => existsSync(f));
}
