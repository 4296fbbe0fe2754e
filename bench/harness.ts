// Bench harness, outside vitest. Infrastructure comes from tests/setup/global.ts (same Postgres,
// Temporal dev server and migrated template as the test run), and the engine from
// tests/setup/engine.ts (which reads that infrastructure from TEST_* env vars).
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import type { TestProject } from "vitest/node";
import { resolveTemporalCli } from "../scripts/infra/temporal";
import type { SshPeer } from "../tests/fixtures/ssh-peer";
import { callByPath } from "../tests/setup/call-by-path";
import globalSetup from "../tests/setup/global";
import type { Report } from "./report";

export interface Infra {
  pgAdminUrl: string;
  temporalAddress: string;
  stop(): Promise<void>;
}

/** Postgres + Temporal dev server + template DB, exactly as `vitest` starts them (globalSetup). */
export async function startInfra(opts: { temporalDynamicConfig?: string[] } = {}): Promise<Infra> {
  const provided: Record<string, string> = {};
  const restoreCli = await withDynamicConfig(opts.temporalDynamicConfig ?? []);
  const project = { provide: (k: string, v: string) => (provided[k] = v) } as unknown as TestProject;
  let teardown: (() => Promise<void>) | undefined;
  try {
    teardown = (await globalSetup(project)) as () => Promise<void>;
  } catch (err) {
    // globalSetup keeps its temp dir for the logs on failure; a bench leaves nothing behind.
    await removeOwnRunDirs();
    throw err;
  } finally {
    await restoreCli();
  }
  return {
    pgAdminUrl: provided.pgAdminUrl!,
    temporalAddress: provided.temporalAddress!,
    stop: async () => {
      await teardown?.();
      await removeOwnRunDirs();
    },
  };
}

/**
 * For what-if runs only (BENCH_TEMPORAL_DYNAMIC_CONFIG): scripts/infra/temporal.ts has no option
 * for dev-server dynamic config, but honours TEMPORAL_CLI_PATH, so point that at a wrapper that
 * appends `--dynamic-config-value` flags. The wrapper's dir is removed once the server runs.
 */
async function withDynamicConfig(values: string[]): Promise<() => Promise<void>> {
  if (values.length === 0) return async () => {};
  const cli = await resolveTemporalCli();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "brokeforge-bench-cli-"));
  const wrapper = path.join(dir, "temporal");
  const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
  const flags = values
    .flatMap((v) => ["--dynamic-config-value", v])
    .map(q)
    .join(" ");
  await fs.writeFile(wrapper, `#!/bin/sh\nexec ${q(cli)} "$@" ${flags}\n`, { mode: 0o755 });
  const before = process.env.TEMPORAL_CLI_PATH;
  process.env.TEMPORAL_CLI_PATH = wrapper;
  return async () => {
    if (before === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = before;
    await fs.rm(dir, { recursive: true, force: true });
  };
}

/** Temp dirs globalSetup made for this process (owner.pid = our pid). */
async function removeOwnRunDirs() {
  const tmp = os.tmpdir();
  for (const name of await fs.readdir(tmp).catch(() => [] as string[])) {
    if (!name.startsWith("brokeforge-test-")) continue;
    const dir = path.join(tmp, name);
    const owner = await fs.readFile(path.join(dir, "owner.pid"), "utf8").catch(() => "");
    if (owner.trim() === String(process.pid)) await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface BenchEngine {
  databaseUrl: string;
  taskQueue: string;
  peer: SshPeer;
  api: ReturnType<typeof import("../trpc/router").createCaller>;
  /**
   * Calls a procedure by path as the same user, for kinds registered at run time (bench-kind.ts):
   * they have routers like the built-in ones but no static type, so they are reached by path.
   */
  call(path: string, input: unknown): Promise<unknown>;
  userId: string;
  db: ReturnType<typeof import("../core/db").db>;
  temporal: import("@temporalio/client").Client;
  addServer(name?: string): Promise<{ id: string }>;
  stop(): Promise<void>;
}

/**
 * An isolated BrokeForge on `infra` — the same one the integration tests use
 * (tests/setup/engine.ts: own database cloned from the template, own task queue, an in-process
 * worker from temporal/worker-factory, the ssh2 test peer, a signed-in user's tRPC caller).
 */
export async function startEngine(infra: Infra): Promise<BenchEngine> {
  process.env.TEST_PG_ADMIN_URL = infra.pgAdminUrl;
  process.env.TEST_TEMPORAL_ADDRESS = infra.temporalAddress;
  // Registered before the routers and activities are first loaded (as an extension would be).
  const { registerResourceKind } = await import("../catalogue");
  const { benchNoteKind } = await import("./bench-kind");
  registerResourceKind(benchNoteKind);
  const { startEngine: startTestEngine } = await import("../tests/setup/engine");
  const e = await startTestEngine();
  const { appRouter } = await import("../trpc/router");
  const { createCallerFactory } = await import("../trpc/init");
  const user = await e.db.user.findUniqueOrThrow({ where: { id: e.userId } });
  const raw = createCallerFactory(appRouter)({ principal: { user, via: { kind: "session", sessionId: "bench" } }, ip: "127.0.0.1" });
  const { temporalClient } = await import("../temporal/client");
  const { closeAll } = await import("../activities/ssh/pool");
  return {
    databaseUrl: e.env.database.url,
    taskQueue: e.env.taskQueue,
    peer: e.peer,
    api: e.api,
    userId: e.userId,
    call: callByPath(raw),
    db: e.db,
    temporal: await temporalClient(),
    addServer: e.addServer,
    async stop() {
      await e.stop();
      closeAll();
    },
  };
}

/** What each measuring phase (baselines.ts, temporal-floor.ts, handoff.ts, parallel.ts) works with. */
export interface Bench {
  infra: Infra;
  engine: BenchEngine;
  /** The bench's own pg client on the engine's database; its queries are left out of the accounting. */
  poller: pg.Client;
  report: Report;
}
