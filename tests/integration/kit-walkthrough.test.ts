// docs/adding-a-package.md, checked: the walk-through's package and resource kind
// (docs/examples/hello.ts) are registered with the kit alone — no edit to the engine,
// lifecycle, routers or live hub — and run through the real engine (Postgres, Temporal, a
// worker) against a real OpenSSH sshd on 127.0.0.1, whose shell really runs the plans.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { greetingKind, helloPackage } from "../../docs/examples/hello";
import { startSshd, type RunningSshd } from "../fixtures/sshd";
import { eventually, setupTestEnv, startTestWorker, teardownTestEnv, type TestEnv } from "../setup/app";
import { callByPath, type CallByPath } from "../setup/call-by-path";

let env: TestEnv;
let sshd: RunningSshd;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let root: string;
let call: CallByPath;
let api: ReturnType<typeof import("../../trpc/router").createCaller>;
let db: ReturnType<typeof import("../../core/db").db>;

beforeAll(async () => {
  env = await setupTestEnv();
  root = join(await mkdtemp(join(tmpdir(), "bf-kit-")), "hello");
  // Registered before the routers and activities are first loaded, as an extension would be.
  const { registerPackage, registerResourceKind } = await import("../../catalogue");
  registerPackage(helloPackage(root));
  registerResourceKind(greetingKind(root));
  [sshd, worker] = await Promise.all([startSshd(), startTestWorker()]);
  const { db: getDb } = await import("../../core/db");
  const { createCaller, appRouter } = await import("../../trpc/router");
  db = getDb();
  const user = await db.user.create({ data: { email: "kit@example.com", passwordHash: "x" } });
  const ctx = { principal: { user, via: { kind: "session" as const, sessionId: "test" } }, ip: "127.0.0.1" };
  api = createCaller(ctx);
  // A registered kind has a router like the built-in ones, but no static type for clients:
  // reach its procedures by path, as an HTTP client would.
  const { createCallerFactory } = await import("../../trpc/init");
  const raw = createCallerFactory(appRouter)(ctx);
  call = callByPath(raw);
});

afterAll(async () => {
  await worker?.stop();
  await sshd?.stop();
  if (root) await rm(join(root, ".."), { recursive: true, force: true });
  if (env) await teardownTestEnv(env);
});

it("the doc shows the example exactly as the test runs it", () => {
  const doc = readFileSync(new URL("../../docs/adding-a-package.md", import.meta.url), "utf8");
  const example = readFileSync(new URL("../../docs/examples/hello.ts", import.meta.url), "utf8");
  expect(doc).toContain(example.trim());
});

it("installs the throwaway package and runs the throwaway kind's lifecycle through the engine", async () => {
  const server = await api.servers.create({ name: "kit", host: "127.0.0.1", sshPort: sshd.port, sshUser: "root" });
  const detail = await api.servers.byId({ id: server.id });
  await sshd.authorize(detail.publicKeys.find((k) => k.kind === "root")!.publicKey);

  // The kind's parent package is missing: refused at once, nothing queued.
  await expect(call("greetings.create", { serverId: server.id, name: "no hello", text: "hi" })).rejects.toMatchObject({
    code: "PRECONDITION_FAILED",
    message: "Install Hello on this server first",
  });
  expect(await db.operation.count({ where: { serverId: server.id } })).toBe(0);

  // BrokeForge believes hello is installed, but the server has no hello directory: the
  // action's own precondition, checked on the server before the first milestone, fails the
  // operation at once with the definition's words (no milestone runs, no retries).
  const believed = await db.serverPackage.create({ data: { serverId: server.id, type: "hello", name: "hello", status: "active" } });
  const early = (await call("greetings.create", { serverId: server.id, name: "too soon", text: "hi" })) as {
    id: string;
    operationId: string;
  };
  const refused = await eventually(async () => {
    const op = await db.operation.findUnique({ where: { id: early.operationId } });
    return op?.state === "failed" ? op : null;
  });
  expect(refused.errorLog).toBe(`${root} does not exist on the server`);
  expect(refused.title).toBe("Add greeting “too soon”");
  expect(await db.operationMilestone.count({ where: { operationId: early.operationId } })).toBe(0);
  await db.serverPackage.delete({ where: { id: believed.id } });

  const pkg = await api.packages.create({ serverId: server.id, type: "hello" });
  const installed = await eventually(async () => {
    const row = await db.serverPackage.findUnique({ where: { id: pkg.id } });
    return row?.status === "active" ? row : null;
  });
  expect(installed).toMatchObject({ name: "hello", version: "1.0.0" });
  expect(readFileSync(join(root, "hello.conf"), "utf8")).toBe("greeting=hello\n");

  const token = `never-in-history-${randomUUID()}`;
  const hostile = `it's "quoted" $(id) \`id\` ; rm -rf / 😀 ${token}`;
  const greeting = (await call("greetings.create", { serverId: server.id, name: "web", text: hostile })) as {
    id: string;
    status: string;
    operationId: string;
  };
  expect(greeting.status).toBe("pending");
  await eventually(async () => (await db.supervisorProgram.findUnique({ where: { id: greeting.id } }))?.status === "active" || null);
  expect(readFileSync(join(root, "greetings", `${greeting.id}.txt`), "utf8")).toBe(`${hostile}\n`);
  // Plans are rebuilt inside activities: what the commands carry (here the greeting's text,
  // elsewhere a password) is nowhere in Temporal's history of the operation or the queue.
  const { temporalClient } = await import("../../temporal/client");
  const client = await temporalClient();
  for (const workflowId of [`server-${server.id}/op-${greeting.operationId}`, `server-${server.id}`]) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const text = JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString("utf8") : v));
    expect(text).toContain(greeting.operationId); // the history was read, payloads decoded
    expect(text).not.toContain(token);
  }
  const listed = (await call("greetings.list", { serverId: server.id })) as { id: string; status: string }[];
  expect(listed.map((g) => g.status)).toEqual(["failed", "active"]);

  await call("greetings.remove", { id: greeting.id });
  await eventually(async () => (await db.supervisorProgram.findUnique({ where: { id: greeting.id } })) === null || null);
  expect(existsSync(join(root, "greetings", `${greeting.id}.txt`))).toBe(false);

  const ops = await db.operation.findMany({ where: { serverId: server.id }, orderBy: { createdAt: "asc" } });
  expect(ops.map((o) => [o.title, o.state])).toEqual([
    ["Add greeting “too soon”", "failed"],
    ["Install package Hello (hello)", "succeeded"],
    ["Add greeting “web”", "succeeded"],
    ["Remove greeting “web”", "succeeded"],
  ]);
});
