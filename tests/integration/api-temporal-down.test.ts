// Temporal unreachable (its address is a closed port on 127.0.0.1) while the database is fine:
// a user who adds a rule, removes one, retries, or tests the connection gets a clear error
// at once, and nothing is left waiting for an operation that will never run — no resource
// stuck `pending`/`removing`, no server stuck `connecting`, no operation stuck `queued`; the
// failed operation stays in the activity list with the reason.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../scripts/infra/ports";
import { insertResource } from "../setup/kind-samples";
import { setupTestEnv, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let db: ReturnType<typeof import("../../core/db").db>;

beforeAll(async () => {
  env = await setupTestEnv();
  // Nothing listens there: a free port that no one was given.
  process.env.TEMPORAL_ADDRESS = `127.0.0.1:${await freePort()}`;
  db = (await import("../../core/db")).db();
});
afterAll(async () => {
  if (env) await teardownTestEnv(env);
});

/** A user of their own with a server that has the firewall package (rows only). */
async function newOwner(label: string) {
  const { createCaller } = await import("../../trpc/router");
  const user = await db.user.create({ data: { email: `${label}-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: "x" } });
  const api = createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${user.id}` } }, ip: "127.0.0.1" });
  // Creating a server needs no Temporal: it is rows and keys.
  const server = await api.servers.create({ name: label, host: "192.0.2.40", sshPort: 22, sshUser: "root" });
  await db.serverPackage.create({ data: { serverId: server.id, type: "firewall", name: "ufw", status: "active" } });
  return { user, api, server: await db.server.findUniqueOrThrow({ where: { id: server.id } }) };
}

const unavailable = (what: RegExp) => ({ code: "SERVICE_UNAVAILABLE", message: expect.stringMatching(what) });

describe("Temporal unreachable", () => {
  it("adding a firewall rule: a clear error, the rule shown failed with the reason, its operation failed", async () => {
    const { api, server } = await newOwner("down-create");
    await expect(
      api.firewall.create({ serverId: server.id, name: "web", port: "443", protocol: "tcp", action: "allow", source: "" }),
    ).rejects.toMatchObject(unavailable(/^Could not queue the operation: /));
    const [rule] = await db.firewallRule.findMany({ where: { serverId: server.id } });
    expect(rule).toMatchObject({ status: "failed", errorLog: expect.stringMatching(/^Could not queue the operation: /) });
    const [op] = await db.operation.findMany({ where: { serverId: server.id } });
    expect(op).toMatchObject({ state: "failed", resourceId: rule!.id, errorLog: rule!.errorLog, finishedAt: expect.any(Date) });
  });

  it("removing an active rule: a clear error, and the rule is still active (nothing was removed)", async () => {
    const { api, server } = await newOwner("down-remove");
    const { firewallRule } = await import("../../catalogue/resources/firewall-rule");
    const rule = await insertResource(firewallRule, server, "active");
    await expect(api.firewall.remove({ id: rule.id })).rejects.toMatchObject(unavailable(/^Could not queue the operation: /));
    expect(await db.firewallRule.findUniqueOrThrow({ where: { id: rule.id } })).toMatchObject({ status: "active" });
    expect(await db.operation.findMany({ where: { resourceId: rule.id } })).toEqual([
      expect.objectContaining({ action: "remove", state: "failed", errorLog: expect.stringMatching(/^Could not queue/) }),
    ]);
  });

  it("retrying a failed rule: a clear error, the rule failed again with the new reason", async () => {
    const { api, server } = await newOwner("down-retry");
    const { firewallRule } = await import("../../catalogue/resources/firewall-rule");
    const rule = await insertResource(firewallRule, server, "failed", { errorLog: "E: the first attempt" });
    await expect(api.firewall.retry({ id: rule.id })).rejects.toMatchObject(unavailable(/^Could not queue the operation: /));
    expect(await db.firewallRule.findUniqueOrThrow({ where: { id: rule.id } })).toMatchObject({
      status: "failed",
      errorLog: expect.stringMatching(/^Could not queue the operation: /),
    });
  });

  it("testing the connection: a clear error, and the server shows the failure instead of `connecting`", async () => {
    const { api, server } = await newOwner("down-test");
    await expect(api.servers.testConnection({ id: server.id })).rejects.toMatchObject(
      unavailable(/^Could not start the connection test: /),
    );
    expect(await api.servers.byId({ id: server.id })).toMatchObject({
      connectionStatus: "failed",
      connectionError: expect.stringMatching(/^Could not start the connection test: /),
    });
    expect(await db.operation.findMany({ where: { serverId: server.id } })).toEqual([
      expect.objectContaining({ kind: "server.test_connection", state: "failed", finishedAt: expect.any(Date) }),
    ]);
  });
});
