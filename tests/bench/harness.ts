// Bench harness, outside vitest. Infrastructure comes from tests/setup/global.ts (same Postgres,
// Temporal dev server and migrated template as the test run). The per-run engine is a small
// re-statement of tests/setup/app.ts + engine.ts: those modules import `inject` from "vitest",
// which throws ("Vitest failed to access its internal state") when loaded outside the vitest
// runner, so they cannot be imported here.
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { databaseUrl } from "../../scripts/infra/postgres";
import { resolveTemporalCli } from "../../scripts/infra/temporal";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import globalSetup, { TEMPLATE_DB } from "../setup/global";

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
  const flags = values.flatMap((v) => ["--dynamic-config-value", v]).map(q).join(" ");
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

async function adminQuery(adminUrl: string, sql: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface BenchEngine {
  databaseUrl: string;
  taskQueue: string;
  peer: SshPeer;
  api: ReturnType<typeof import("../../trpc/router").createCaller>;
  db: ReturnType<typeof import("../../app/lib/db.server").db>;
  temporal: import("@temporalio/client").Client;
  addServer(name?: string): Promise<{ id: string }>;
  stop(): Promise<void>;
}

/**
 * An isolated BrokeForge on `infra`: own database cloned from the template, own task queue,
 * an in-process worker built by temporal/worker-factory (production defaults), the ssh2 test
 * peer (in this process too) and a signed-in user's tRPC caller.
 */
export async function startEngine(infra: Infra): Promise<BenchEngine> {
  const name = `bf_bench_${process.pid}_${randomBytes(4).toString("hex")}`;
  await adminQuery(infra.pgAdminUrl, `create database "${name}" template ${TEMPLATE_DB}`);
  const url = databaseUrl(infra.pgAdminUrl, name);
  const taskQueue = `bench-${randomUUID()}`;
  Object.assign(process.env, {
    NODE_ENV: "test",
    DATABASE_URL: url,
    TEMPORAL_ADDRESS: infra.temporalAddress,
    TEMPORAL_NAMESPACE: "default",
    TEMPORAL_TASK_QUEUE: taskQueue,
    BROKEFORGE_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    SESSION_SECRET: randomBytes(32).toString("base64url"),
    HOST: "127.0.0.1",
    PORT: "3000",
  });

  const stops: (() => Promise<unknown>)[] = [() => adminQuery(infra.pgAdminUrl, `drop database if exists "${name}" with (force)`)];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch((e) => console.error(`[bench] cleanup step failed: ${e}`));
  };
  try {
    const { DefaultLogger, Runtime } = await import("@temporalio/worker");
    try {
      Runtime.install({ logger: new DefaultLogger("WARN") });
    } catch {
      // already installed
    }
    const { disconnectDb, db: getDb } = await import("../../app/lib/db.server");
    const { closeTemporalClient, temporalClient } = await import("../../temporal/client");
    const { closeAll } = await import("../../activities/ssh/pool");
    stops.push(() => disconnectDb(), () => closeTemporalClient());

    const peer = await startSshPeer();
    stops.push(() => peer.stop());

    const { createWorker } = await import("../../temporal/worker-factory");
    const worker = await createWorker();
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
      closeAll();
    });

    const { createCaller } = await import("../../trpc/router");
    const db = getDb();
    const user = await db.user.create({ data: { email: `bench-${taskQueue}@example.com`, passwordHash: "x" } });
    const api = createCaller({ principal: { user, via: { kind: "session", sessionId: "bench" } }, ip: "127.0.0.1" });
    const temporal = await temporalClient();
    let n = 0;
    return {
      databaseUrl: url,
      taskQueue,
      peer,
      api,
      db,
      temporal,
      async addServer(serverName = `server-${++n}`) {
        const server = await api.servers.create({ name: serverName, host: "127.0.0.1", sshPort: peer.port, sshUser: "root" });
        const credential = await db.serverCredential.findFirstOrThrow({ where: { serverId: server.id, kind: "root" } });
        peer.authorize(credential.publicKey, server.id);
        return server;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

