// Actions as a user starts them through the API, on the real engine (Postgres, Temporal dev
// server, an in-process worker, the SSH test peer): retry of every resource kind, cancel of
// an operation that is unknown or already over, the same action clicked twice, and what
// editing a server's address does to its pinned host key.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The kinds with generated routers; the site kinds' own router is covered by api-sites.test.ts.
import { generatedRouterKinds as allKinds } from "../../catalogue";
import type { ResourceKind } from "../../catalogue/kit";
import { installTransitionLog } from "../setup/transitions";
import { hasSample, insertResource, REAL_SERVER_ONLY } from "../setup/kind-samples";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let transitions: Awaited<ReturnType<typeof installTransitionLog>>;

beforeAll(async () => {
  e = await startEngine();
  transitions = await installTransitionLog(e.env.database.url);
});
afterAll(async () => {
  await e?.stop();
});

/** A signed-in user of their own, with a tRPC caller (each test makes its own). */
async function newUser(label: string) {
  const { createCaller } = await import("../../trpc/router");
  const user = await e.db.user.create({
    data: { email: `${label}-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: "x" },
  });
  return { user, api: createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${user.id}` } }, ip: "127.0.0.1" }) };
}

/** The caller's procedure `<kind.api>.<name>`: the routers are generated per kind, so the path is data here. */
function procedureOf(api: object, kind: ResourceKind, name: string): (input: { id: string }) => Promise<unknown> {
  const fn: unknown = Reflect.get(Reflect.get(api, kind.api), name);
  if (typeof fn !== "function") throw new Error(`no procedure ${kind.api}.${name}`);
  return (input) => Promise.resolve(fn(input));
}

describe("retry, for every resource kind in the catalogue", () => {
  it("every kind has a sample input (so the cases below cover it)", () => {
    expect(
      allKinds()
        .filter((k) => !hasSample(k))
        .map((k) => k.type),
    ).toEqual([]);
  });

  it.each(
    allKinds()
      .filter((k) => !REAL_SERVER_ONLY.includes(k.type))
      .map((k) => [k.api, k] as const),
  )("%s.retry from failed queues a new operation, and the resource goes failed → pending → installing → active", async (_api, kind) => {
    // A server with the kind's parent package installed (packages themselves need none).
    const server = await e.addServer(`retry-${kind.type}`, { packages: kind.parent ? [kind.parent] : [] });
    // What a connection test records (provisioning refuses a server whose OS it does not know).
    await e.db.server.update({ where: { id: server.id }, data: { osId: "debian", osRelease: "12", osCodename: "bookworm" } });
    const facts = await e.db.server.findUniqueOrThrow({ where: { id: server.id } });
    const row = await insertResource(kind, facts, "failed", { errorLog: "E: the earlier attempt failed" });

    const result = await procedureOf(e.api, kind, "retry")({ id: row.id });
    expect(result).toMatchObject({ id: row.id, operationId: expect.any(String) });
    const { operationId } = result as { operationId: string };

    const op = await eventually(async () => {
      const o = await e.db.operation.findUnique({ where: { id: operationId } });
      return o && ["succeeded", "failed", "cancelled"].includes(o.state) ? o : null;
    });
    expect(op).toMatchObject({ state: "succeeded", action: "install", resourceId: row.id, resourceType: kind.type, isRetry: true });
    expect(op.title).toMatch(/^Retry: /);
    const { resourceTable } = await import("../../core/resources");
    expect(await resourceTable(kind).findUnique({ where: { id: row.id } })).toMatchObject({ status: "active", errorLog: null });
    expect(await transitions.pathOf(row.id)).toEqual(["failed", "pending", "installing", "active"]);
    expect(await transitions.pathOf(operationId)).toEqual(["queued", "running", "succeeded"]);
    // One operation for the retry: nothing else was queued for the resource.
    expect(await e.db.operation.count({ where: { resourceId: row.id } })).toBe(1);
  });
});

describe("cancel", () => {
  it("of an operation that does not exist (or is another user's) is NOT_FOUND", async () => {
    const { api } = await newUser("cancel-unknown");
    await expect(api.operations.cancel({ id: "no-such-operation" })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: "Operation not found",
    });
    // Another user's real operation looks exactly the same: ids reveal nothing.
    const owner = await newUser("cancel-owner");
    const server = await owner.api.servers.create({ name: "theirs", host: "192.0.2.7", sshPort: 22, sshUser: "root" });
    const theirs = await e.db.operation.create({
      data: { serverId: server.id, userId: owner.user.id, kind: "firewall_rule.install", title: "Add", action: "install", state: "queued" },
    });
    await expect(api.operations.cancel({ id: theirs.id })).rejects.toMatchObject({ code: "NOT_FOUND", message: "Operation not found" });
    expect((await e.db.operation.findUniqueOrThrow({ where: { id: theirs.id } })).state).toBe("queued");
  });

  // The Cancel button is shown while an operation runs; it can finish before the click lands.
  // The user is told it already ended (CONFLICT, with the state in words) rather than given a
  // silent success: nothing was cancelled, and the operation's outcome stands.
  it.each(["succeeded", "failed", "cancelled"] as const)("of an operation that already %s is a CONFLICT that says so", async (state) => {
    const { user, api } = await newUser(`cancel-${state}`);
    const server = await api.servers.create({ name: "done", host: "192.0.2.8", sshPort: 22, sshUser: "root" });
    const finishedAt = new Date();
    const op = await e.db.operation.create({
      data: {
        serverId: server.id,
        userId: user.id,
        kind: "firewall_rule.install",
        title: "Add firewall rule",
        resourceType: "firewall_rule",
        resourceId: "r1",
        action: "install",
        state,
        finishedAt,
      },
    });
    await expect(api.operations.cancel({ id: op.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: `The operation already ${state}`,
    });
    expect(await e.db.operation.findUniqueOrThrow({ where: { id: op.id } })).toMatchObject({ state, finishedAt });
  });
});

describe("the same action twice", () => {
  it("remove clicked twice at once: one operation; the other click is refused, naming the status it found", async () => {
    const { api } = await newUser("twice-remove");
    const server = await e.addServer("twice-remove");
    // The engine user owns addServer's servers; hand this one to the test's user.
    await e.db.server.update({ where: { id: server.id }, data: { userId: (await api.auth.whoami()).id } });
    const rule = await api.firewall.create({
      serverId: server.id,
      name: "web",
      port: "8088",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } }))?.status === "active" || null);

    const results = await Promise.allSettled([api.firewall.remove({ id: rule.id }), api.firewall.remove({ id: rule.id })]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected");
    // Both requests read the row while it was active; the refusal names what it is now (or,
    // had the first removal already finished, that the rule is gone).
    expect(refused?.reason).toSatisfy(
      (err: { code: string; message: string }) =>
        (err.code === "CONFLICT" && /^Can't remove while it is removing \(only when/.test(err.message)) ||
        (err.code === "CONFLICT" && err.message === "This firewall rule no longer exists"),
    );
    expect(await e.db.operation.count({ where: { resourceId: rule.id, action: "remove" } })).toBe(1);
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } })) === null || null);
  });

  it("retry clicked twice in a row: the second is refused while the first is queued or running", async () => {
    const { user, api } = await newUser("twice-retry");
    const server = await e.addServer("twice-retry");
    await e.db.server.update({ where: { id: server.id }, data: { userId: user.id } });
    const facts = await e.db.server.findUniqueOrThrow({ where: { id: server.id } });
    const kind = allKinds().find((k) => k.api === "scheduler")!;
    const row = await insertResource(kind, facts, "failed", { errorLog: "boom" });

    await api.scheduler.retry({ id: row.id });
    const second = await api.scheduler.retry({ id: row.id }).catch((err: unknown) => err);
    // Unless the first retry already finished (then the second is a retry of an active task,
    // refused all the same), the task is pending or installing.
    expect(second).toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/^Can't retry while it is (pending|installing|active)/),
    });
    expect(await e.db.operation.count({ where: { resourceId: row.id } })).toBe(1);
    await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: row.id } }))?.status === "active" || null);
  });
  // The same create twice at once (two tabs adding one firewall rule) is
  // tests/integration/resource-create-race.test.ts.
});

describe("servers.update and the pinned host key", () => {
  const pinned = { hostKeyFingerprint: "SHA256:pinnedpinnedpinnedpinnedpinnedpinnedpinned", hostKeyAlgorithm: "ssh-ed25519" };

  async function pinnedServer() {
    const { api } = await newUser("hostkey");
    const server = await api.servers.create({ name: "web-1", host: "192.0.2.20", sshPort: 22, sshUser: "root" });
    await e.db.server.update({ where: { id: server.id }, data: { ...pinned, connectionStatus: "connected" } });
    return { api, server };
  }

  it("keeps the pinned key when only the name or the login user changes", async () => {
    const { api, server } = await pinnedServer();
    const renamed = await api.servers.update({ id: server.id, name: "web-renamed", host: "192.0.2.20", sshPort: 22, sshUser: "root" });
    expect(renamed).toMatchObject({ name: "web-renamed", ...pinned, connectionStatus: "connected" });
    const otherUser = await api.servers.update({ id: server.id, name: "web-renamed", host: "192.0.2.20", sshPort: 22, sshUser: "deploy" });
    // Same machine, same key; only the login is to be tested again.
    expect(otherUser).toMatchObject({ sshUser: "deploy", ...pinned, connectionStatus: "unknown" });
  });

  it.each([
    ["host", { host: "192.0.2.21", sshPort: 22 }],
    ["port", { host: "192.0.2.20", sshPort: 2222 }],
  ])("forgets the pinned key when the %s changes (probably another machine)", async (_what, address) => {
    const { api, server } = await pinnedServer();
    const moved = await api.servers.update({ id: server.id, name: "web-1", sshUser: "root", ...address });
    expect(moved).toMatchObject({ ...address, hostKeyFingerprint: null, hostKeyAlgorithm: null, connectionStatus: "unknown" });
    expect(await e.db.server.findUniqueOrThrow({ where: { id: server.id } })).toMatchObject({ hostKeyFingerprint: null });
  });
});
