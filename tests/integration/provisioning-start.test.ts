// A server added with a role is provisioned once BrokeForge knows it: its first successful
// connection test puts ONE provisioning operation on its queue (a second test adds none), a
// server whose OS BrokeForge does not support gets none, and bad role input is refused with
// field errors. Real Postgres, Temporal and worker; the executing SSH peer as the server.
// (What provisioning does on a server is proven on real Debian servers, not here: the peer's
// stub apt models package state, not the files packages install.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { eventually, setupTestEnv, startTestWorker, teardownTestEnv, type TestEnv } from "../setup/app";
import { callByPath } from "../setup/call-by-path";

let env: TestEnv;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let peer: SshPeer;
let api: ReturnType<typeof import("../../trpc/router").createCaller>;

beforeAll(async () => {
  env = await setupTestEnv();
  [peer, worker] = await Promise.all([startSshPeer(), startTestWorker()]);
  const { db } = await import("../../core/db");
  const { createCaller } = await import("../../trpc/router");
  const user = await db().user.create({ data: { email: "roles@example.com", passwordHash: "x" } });
  api = createCaller({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
});

afterAll(async () => {
  await worker?.stop();
  await peer?.stop();
  if (env) await teardownTestEnv(env);
});

type Role = NonNullable<Parameters<typeof api.servers.create>[0]["provisioning"]>;

async function addWithRole(name: string, provisioning: Role, osRelease?: string) {
  const server = await api.servers.create({ name, host: "127.0.0.1", sshPort: peer.port, sshUser: "root", provisioning });
  const keys = (await api.servers.byId({ id: server.id })).publicKeys;
  peer.authorize(keys.find((k) => k.kind === "root")!.publicKey, server.id);
  const fake = await peer.server(server.id);
  await fake.ready;
  if (osRelease) fake.write("/etc/os-release", osRelease);
  return server;
}

async function testConnection(id: string) {
  await api.servers.testConnection({ id });
  return eventually(async () => {
    const s = await api.servers.byId({ id });
    return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
  });
}

const provisioningOps = async (serverId: string) => {
  const { db } = await import("../../core/db");
  return db().operation.findMany({ where: { serverId, resourceType: "provisioning" } });
};

describe("provisioning starts when the server is known", () => {
  it("waits (pending, nothing queued) until the first connection test, which queues exactly one provisioning; a second test queues none", async () => {
    const server = await addWithRole("app-1", { role: "app", phpVersion: "", database: "postgresql" });
    const before = await api.servers.byId({ id: server.id });
    expect(before.provisioning).toMatchObject({ role: "app", phpVersion: null, database: "postgresql", status: "pending" });
    expect(await provisioningOps(server.id)).toEqual([]);

    expect((await testConnection(server.id)).connectionError).toBeNull();
    const ops = await eventually(async () => {
      const o = await provisioningOps(server.id);
      return o.length ? o : null;
    });
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({
      action: "install",
      isRetry: false,
      title: "Provision the server as App server (PHP newest, PostgreSQL)",
    });
    // It left "pending" at once: the overview shows it under way, not waiting.
    expect((await api.servers.byId({ id: server.id })).provisioning?.status).not.toBe("pending");

    await testConnection(server.id);
    expect(await provisioningOps(server.id)).toHaveLength(1);
    const { stopServerQueue } = await import("../../core/operations");
    await stopServerQueue(server.id); // what it would do on the peer is not this test's business
  });

  it("gives a provisioning four operation timeouts (a role's apt work), any other operation one", async () => {
    const { operationTimeoutSeconds } = await import("../../core/operations");
    const { sharedEnv } = await import("../../core/env");
    const one = sharedEnv().OPERATION_TIMEOUT_SECONDS;
    expect(operationTimeoutSeconds("provisioning", "install")).toBe(4 * one);
    expect(operationTimeoutSeconds("provisioning", "remove")).toBe(one);
    expect(operationTimeoutSeconds("package", "install")).toBe(one);
  });

  it("a server whose OS BrokeForge does not support is not provisioned", async () => {
    const server = await addWithRole(
      "old",
      { role: "web" },
      'NAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=debian\n',
    );
    const done = await testConnection(server.id);
    expect(done).toMatchObject({ connectionStatus: "connected", osRelease: "11" });
    expect(done.provisioning?.status).toBe("pending");
    expect(await provisioningOps(server.id)).toEqual([]);
  });

  it("a server added without a role has no provisioning, and a connection test starts none", async () => {
    const server = await api.servers.create({ name: "plain", host: "127.0.0.1", sshPort: peer.port, sshUser: "root" });
    expect((await api.servers.byId({ id: server.id })).provisioning).toBeNull();
  });

  it("refuses a role, PHP version or database engine that is not one of the choices, creating nothing", async () => {
    const { db } = await import("../../core/db");
    const count = () => db().server.count();
    const n = await count();
    // What a hand-written HTTP client could send: untyped.
    const create = (provisioning: unknown) =>
      callByPath(api)("servers.create", { name: "bad", host: "127.0.0.1", sshPort: 22, sshUser: "root", provisioning });
    await expect(create({ role: "mail" })).rejects.toThrow(/Choose a role: app, web, database, worker, bare/);
    await expect(create({ role: "web", phpVersion: "8; rm -rf /" })).rejects.toThrow(/Use a PHP version like 8.2/);
    await expect(create({ role: "app", database: "mysql" })).rejects.toThrow(/Choose MariaDB or PostgreSQL/);
    expect(await count()).toBe(n);
  });

  it("drops the choices a role does not use, and gives roles with a database MariaDB by default", async () => {
    const web = await api.servers.create({
      name: "w",
      host: "127.0.0.1",
      sshPort: 22,
      sshUser: "root",
      provisioning: { role: "web", phpVersion: "8.2", database: "postgresql" },
    });
    expect((await api.servers.byId({ id: web.id })).provisioning).toMatchObject({ role: "web", phpVersion: "8.2", database: null });
    const db = await api.servers.create({
      name: "d",
      host: "127.0.0.1",
      sshPort: 22,
      sshUser: "root",
      provisioning: { role: "database", phpVersion: "8.2" },
    });
    expect((await api.servers.byId({ id: db.id })).provisioning).toMatchObject({ role: "database", phpVersion: null, database: "mariadb" });
  });
});
