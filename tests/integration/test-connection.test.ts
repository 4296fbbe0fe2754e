// The test-connection workflow end to end: real Postgres, the real Temporal dev server, a
// worker in-process, and SSH peers (OpenSSH sshd, and the in-process ssh2 peer for faults).
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type RunningSshd } from "../fixtures/sshd";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { freePort } from "../../scripts/infra/ports";
import { activityRuns } from "../setup/history";
import { eventually, setupTestEnv, startTestWorker, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let sshd: RunningSshd;
let peer: SshPeer;
let api: ReturnType<typeof import("../../trpc/router").createCaller>;
let db: ReturnType<typeof import("../../core/db").db>;

beforeAll(async () => {
  env = await setupTestEnv();
  [sshd, peer, worker] = await Promise.all([startSshd(), startSshPeer(), startTestWorker()]);
  const { db: getDb } = await import("../../core/db");
  const { createCaller } = await import("../../trpc/router");
  db = getDb();
  const user = await db.user.create({ data: { email: "ops@example.com", passwordHash: "x" } });
  api = createCaller({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
});

afterAll(async () => {
  await worker?.stop();
  await Promise.all([sshd?.stop(), peer?.stop()]);
  if (env) await teardownTestEnv(env);
});

async function finished(serverId: string) {
  return eventually(async () => {
    const s = await api.servers.byId({ id: serverId });
    return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
  });
}

/** How many times probeServer was attempted (Temporal's own record). */
async function probeAttempts(workflowId: string): Promise<number> {
  const [run] = await activityRuns(workflowId, "probeServer");
  return run?.attempts ?? 0;
}

describe("test connection", () => {
  it("connects to a real sshd once its key is authorized: status connected, OS info and host key pinned", async () => {
    const server = await api.servers.create({ name: "web-1", host: "127.0.0.1", sshPort: sshd.port, sshUser: "root" });
    expect(server.connectionStatus).toBe("unknown");
    const detail = await api.servers.byId({ id: server.id });
    await sshd.authorize(detail.publicKeys.find((k) => k.kind === "root")!.publicKey);

    const { workflowId } = await api.servers.testConnection({ id: server.id });
    expect(workflowId).toBe(`server-${server.id}/test-connection-${(await api.servers.byId({ id: server.id })).operations[0]!.id}`);
    expect((await api.servers.byId({ id: server.id })).connectionStatus).toMatch(/connecting|connected/);

    const done = await finished(server.id);
    expect(done.connectionError).toBeNull();
    expect(done.connectionStatus).toBe("connected");
    expect(done.hostKeyFingerprint).toBe(sshd.hostKeyFingerprint);
    expect(done.osName).toBeTruthy(); // this machine's /etc/os-release, read over SSH
    expect(done.kernel).toMatch(/\d+\.\d+/);
    // What apt offers for the catalogue's packages, as this machine's own apt-cache says.
    const { allPackages } = await import("../../catalogue");
    const { apt } = await import("../../catalogue/commands");
    const debs = [...new Set(allPackages().flatMap((p) => p.aptPackages))];
    const local = apt.parsePolicy(execFileSync("apt-cache", ["policy", "--", ...debs], { encoding: "utf8" }));
    expect(done.packageOffers).toEqual(local);
    expect(Object.keys(local).sort()).toEqual([...debs].sort());
    expect(done.operations[0]).toMatchObject({ kind: "server.test_connection", state: "succeeded" });
    expect(done.operations[0]!.temporalUrl).toContain(encodeURIComponent(workflowId));
  });

  it("fails at once when the key is not authorized (authentication is permanent: one attempt)", async () => {
    const server = await api.servers.create({ name: "not-authorized", host: "127.0.0.1", sshPort: sshd.port, sshUser: "root" });
    const { workflowId } = await api.servers.testConnection({ id: server.id });
    const done = await finished(server.id);
    expect(done.connectionStatus).toBe("failed");
    expect(done.connectionError).toMatch(/Authentication failed for root@127\.0\.0\.1/);
    expect(done.connectionError).not.toMatch(/attempts/);
    expect(done.hostKeyFingerprint).toBeNull(); // nothing pinned from a failed login
    expect(await probeAttempts(workflowId)).toBe(1);
  });

  it("refuses a server whose host key changed since it was pinned, and keeps the pinned key", async () => {
    const server = await api.servers.create({ name: "rebuilt", host: "127.0.0.1", sshPort: peer.port, sshUser: "root" });
    const detail = await api.servers.byId({ id: server.id });
    peer.authorize(detail.publicKeys.find((k) => k.kind === "root")!.publicKey, server.id);
    // The fake server's /etc is this machine's (an overlay): make it say what a Debian 12 server says.
    (await peer.server(server.id)).write("/etc/os-release", 'NAME="Debian GNU/Linux"\nVERSION="12 (bookworm)"\n');

    await api.servers.testConnection({ id: server.id });
    const first = await finished(server.id);
    expect(first.connectionStatus).toBe("connected");
    expect(first.hostKeyFingerprint).toBe(peer.hostKeyFingerprint);
    expect(first.osName).toBe("Debian GNU/Linux");
    const pinned = first.hostKeyFingerprint;

    const rotated = peer.rotateHostKey();
    const execsBefore = peer.execsFor(server.id).length;
    const { workflowId } = await api.servers.testConnection({ id: server.id });
    const second = await finished(server.id);
    expect(second.connectionStatus).toBe("failed");
    expect(second.connectionError).toContain(`Host key for 127.0.0.1:${peer.port} changed: expected ${pinned}, got ${rotated}`);
    expect(second.hostKeyFingerprint).toBe(pinned);
    expect(peer.execsFor(server.id).length).toBe(execsBefore); // no command ran on the impostor
    expect(await probeAttempts(workflowId)).toBe(1);

    // The user rebuilt the server on purpose: reset the pin, and the next test pins the new key.
    await api.servers.resetHostKey({ id: server.id });
    await api.servers.testConnection({ id: server.id });
    const third = await finished(server.id);
    expect(third.connectionStatus).toBe("connected");
    expect(third.hostKeyFingerprint).toBe(rotated);
  });

  it("gives up on an unreachable host after bounded retries, with a clear error", async () => {
    const closedPort = await freePort(); // nothing listens here
    const server = await api.servers.create({ name: "down", host: "127.0.0.1", sshPort: closedPort, sshUser: "root" });
    const { workflowId } = await api.servers.testConnection({ id: server.id });
    const done = await finished(server.id);
    expect(done.connectionStatus).toBe("failed");
    expect(done.connectionError).toMatch(new RegExp(`Connection to 127\\.0\\.0\\.1:${closedPort} refused`));
    expect(done.connectionError).toMatch(/gave up after 4 attempts/);
    expect(await probeAttempts(workflowId)).toBe(4);
  });
});
