// Reads the shared infrastructure from TEST_* env vars (set by tests/setup/global.ts, inherited by
// test workers) rather than vitest's inject(), so the bench can use these helpers outside vitest.
// One isolated BrokeForge per test file: its own database (copied from the migrated
// template), its own Temporal task queue on the shared dev server, fresh secrets. App modules
// read the environment lazily, so this must run before anything touches them.
import { randomBytes, randomUUID } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "./db";

export interface TestEnv {
  database: TestDatabase;
  taskQueue: string;
}

export async function setupTestEnv(): Promise<TestEnv> {
  const database = await createTestDatabase();
  const taskQueue = `test-${randomUUID()}`;
  Object.assign(process.env, {
    NODE_ENV: "test",
    DATABASE_URL: database.url,
    TEMPORAL_ADDRESS: required("TEST_TEMPORAL_ADDRESS"),
    TEMPORAL_NAMESPACE: "default",
    TEMPORAL_TASK_QUEUE: taskQueue,
    TEMPORAL_UI_URL: "http://127.0.0.1:8233",
    BROKEFORGE_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
    SESSION_SECRET: randomBytes(32).toString("base64url"),
    HOST: "127.0.0.1",
    PORT: "3000", // validated; startTestWeb listens on a free port instead
  });
  return { database, taskQueue };
}

/** Starts the web server (Remix + tRPC HTTP + ws) on a free port. */
export async function startTestWeb() {
  const { startWebServer } = await import("../../web/server");
  const web = await startWebServer({ port: 0 });
  process.env.PUBLIC_URL = web.url;
  return web;
}

/** Starts an in-process worker on this file's task queue (SDK logs at WARN, to keep output readable). */
export async function startTestWorker() {
  const { DefaultLogger, Runtime } = await import("@temporalio/worker");
  try {
    Runtime.install({ logger: new DefaultLogger("WARN") });
  } catch {
    // already installed in this process
  }
  const { createWorker } = await import("../../temporal/worker-factory");
  const worker = await createWorker();
  const running = worker.run();
  return {
    worker,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export async function teardownTestEnv(env: TestEnv) {
  const { disconnectDb } = await import("../../core/db");
  const { closeTemporalClient } = await import("../../temporal/client");
  await closeTemporalClient();
  await disconnectDb();
  await env.database.drop();
}

/** Polls until `check` returns a value (for outcomes a workflow writes asynchronously). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through vitest (tests/setup/global.ts) or the bench harness`);
  return value;
}
