// The SSH connection pool (activities/ssh/pool.ts) against the in-process SSH peer: what a
// user would notice if it went wrong — a connection made per command (slow), connections left
// open forever, a long apt run cut off half-way (the bug fixed in c525d7d), commands sent to a
// server's old address or with its old key, or a server whose host key changed answered
// anyway. Each test builds its own pool with a small idle time (the worker's pool keeps
// DEFAULT_IDLE_MS) and its own server rows; whether a connection was closed is read from the
// peer's connection records, never from how long something took.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApplicationFailure } from "@temporalio/common";
import { toFailure } from "../../activities/failures";
import type { SshConnection } from "../../activities/ssh/client";
import { SshError } from "../../activities/ssh/errors";
import { generateKeyPair } from "../../activities/ssh/keys";
import { SshPool } from "../../activities/ssh/pool";
import { encryptSecret } from "../../core/crypto";
import { credentialAad } from "../../core/servers";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { activityRuns } from "../setup/history";

/** Small, so an idle close happens within a test; the tests wait for its effect, not for this long. */
const IDLE_MS = 200;
/** Longer than any test: a pool that must not close anything for being idle. */
const NEVER_IDLE_MS = 10 * 60_000;

let e: Engine;
const pools: SshPool[] = [];
const extraPeers: SshPeer[] = [];

beforeAll(async () => {
  e = await startEngine();
});
afterEach(async () => {
  for (const p of pools.splice(0)) p.closeAll();
  for (const p of extraPeers.splice(0)) await p.stop();
});
afterAll(async () => {
  await e?.stop();
});

function newPool(idleMs: number): SshPool {
  const pool = new SshPool({ idleMs });
  pools.push(pool);
  return pool;
}

/** One command on a pooled connection, checked out and back in as the activities do. */
async function run(pool: SshPool, serverId: string, command = "true"): Promise<SshConnection> {
  const conn = await pool.acquire(serverId);
  try {
    expect((await conn.exec(command)).exitCode).toBe(0);
  } finally {
    pool.release(serverId, conn);
  }
  return conn;
}

/** Waits until the peer has seen `serverKey`'s connection number `index` close. */
const untilClosed = (peer: SshPeer, serverKey: string, index = 0) =>
  eventually(async () => peer.connectionsFor(serverKey)[index]?.closedAt ?? null, 10_000);

const serverRow = (id: string) => e.db.server.findUniqueOrThrow({ where: { id } });

describe("reuse and idle close", () => {
  it("runs consecutive commands for a server over one connection", async () => {
    const { id } = await e.addServer();
    const pool = newPool(NEVER_IDLE_MS);

    const first = await run(pool, id);
    const second = await run(pool, id);
    const third = await run(pool, id);

    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(e.peer.execsFor(id)).toHaveLength(3);
    expect(e.peer.connectionsFor(id)).toEqual([expect.objectContaining({ closedAt: null })]);
    // The first contact pinned the host key and marked the server reachable.
    expect(await serverRow(id)).toMatchObject({ hostKeyFingerprint: e.peer.hostKeyFingerprint, connectionStatus: "connected" });
  });

  it("closes a connection once it has been idle for the idle time, and opens a new one for the next command", async () => {
    const { id } = await e.addServer();
    const pool = newPool(IDLE_MS);

    const first = await run(pool, id);
    await untilClosed(e.peer, id);
    expect(first.closed).toBe(true);

    const next = await run(pool, id);
    expect(next).not.toBe(first);
    expect(e.peer.connectionsFor(id)).toHaveLength(2);
    expect(e.peer.execsFor(id)).toHaveLength(2);
  });

  it("does not cut off a command that runs longer than the idle time (c525d7d), and closes the connection once it ends", async () => {
    const { id: slow } = await e.addServer();
    const { id: clock } = await e.addServer();
    const pool = newPool(IDLE_MS);
    // A real apt-get on the slow server (the peer runs it), held until the test lets it go on.
    const server = await e.peer.server(slow);
    const apt = server.hold("apt-get", "something-slow");

    const conn = await pool.acquire(slow);
    const running = conn.exec("apt-get install -y something-slow && echo installed");
    // A command that ends before it is held (dropped with its connection) fails the test at once.
    const endedFirst = await Promise.race([apt.held().then(() => null), running]);
    expect(endedFirst, "the command ended before apt-get was held").toBeNull();
    // The idle time passes while the command runs: another server's connection, given back
    // after the slow one was handed out, is closed for being idle…
    await run(pool, clock);
    await untilClosed(e.peer, clock);
    // …and a pool that timed connections from the moment it handed them out (the bug) would
    // have closed the slow server's connection first, under its command.
    expect(conn.closed).toBe(false);
    expect(e.peer.connectionsFor(slow)).toEqual([expect.objectContaining({ closedAt: null })]);

    apt.open();
    expect(await running).toMatchObject({ exitCode: 0, stdout: expect.stringContaining("installed") });
    expect(e.peer.execsFor(slow)).toEqual([expect.objectContaining({ outcome: "exit", exitCode: 0 })]);
    expect(server.calls("apt-get")).toEqual([["apt-get", "install", "-y", "something-slow"]]);
    pool.release(slow, conn);
    // The idle clock starts when the command ends.
    await untilClosed(e.peer, slow);
    expect(e.peer.connectionsFor(slow)).toHaveLength(1);
  });
});

describe("a server whose target changed", () => {
  it("after an address change, runs the next command on the new address and closes the old connection", async () => {
    const name = "moving";
    const { id } = await e.addServer(name);
    const pool = newPool(NEVER_IDLE_MS);
    await run(pool, id);

    // The same server moved to another machine (another SSH server, on another port).
    const moved = await startSshPeer();
    extraPeers.push(moved);
    const credential = await e.db.serverCredential.findFirstOrThrow({ where: { serverId: id, kind: "root" } });
    moved.authorize(credential.publicKey, id);
    await e.api.servers.update({ id, name, host: "127.0.0.1", sshPort: moved.port, sshUser: "root" });

    await run(pool, id);
    expect(moved.execsFor(id)).toHaveLength(1);
    expect(e.peer.execsFor(id)).toHaveLength(1); // only the command from before the move
    await untilClosed(e.peer, id);
    expect(moved.connectionsFor(id)).toEqual([expect.objectContaining({ closedAt: null })]);
    // The update forgot the old machine's host key; the new one was pinned on first contact.
    expect((await serverRow(id)).hostKeyFingerprint).toBe(moved.hostKeyFingerprint);
  });

  it("after a key change, logs in with the new key and closes the connection made with the old one", async () => {
    const { id } = await e.addServer();
    const pool = newPool(NEVER_IDLE_MS);
    await run(pool, id);

    // New key pair for the server's login user; the peer accounts that key's logins separately.
    const pair = generateKeyPair(`brokeforge-root@${id}`);
    await e.db.serverCredential.updateMany({
      where: { serverId: id, kind: "root" },
      data: { publicKey: pair.publicKey, privateKeyEncrypted: encryptSecret(pair.privateKey, credentialAad(id, "root")) },
    });
    const newKey = `${id} (new key)`;
    e.peer.authorize(pair.publicKey, newKey);

    await run(pool, id);
    expect(e.peer.connectionsFor(newKey)).toEqual([expect.objectContaining({ closedAt: null })]);
    expect(e.peer.execsFor(newKey)).toHaveLength(1);
    expect(e.peer.execsFor(id)).toHaveLength(1); // only the command from before the change
    await untilClosed(e.peer, id);
  });
});

describe("a host key that changed", () => {
  it("refuses to reconnect to a server whose host key changed, with a non-retryable failure naming both keys", async () => {
    const { id } = await e.addServer();
    const pool = newPool(NEVER_IDLE_MS);
    const conn = await run(pool, id);
    const pinned = (await serverRow(id)).hostKeyFingerprint;
    expect(pinned).toBe(e.peer.hostKeyFingerprint);

    // The server was rebuilt: its connections dropped, and it now presents another host key.
    const rotated = e.peer.rotateHostKey();
    e.peer.dropAll(id);
    await eventually(async () => conn.closed, 10_000);

    const err = await pool.acquire(id).then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(SshError);
    expect(err).toMatchObject({ kind: "host_key_mismatch", permanent: true });
    expect((err as SshError).message).toBe(
      `Host key for 127.0.0.1:${e.peer.port} changed: expected ${pinned}, got ${rotated}. If you rebuilt the server, reset the pinned key.`,
    );
    const failure = toFailure(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: "SshPermanent", nonRetryable: true });

    expect((await serverRow(id)).hostKeyFingerprint).toBe(pinned);
    expect(e.peer.connectionsFor(id)).toHaveLength(1); // never logged in to the impostor
    expect(e.peer.execsFor(id)).toHaveLength(1);
  });

  it("fails an operation at once when the server's host key no longer matches the pinned one: one attempt, no command run", async () => {
    const { id: serverId } = await e.addServer();
    // Pinned by an earlier contact (as the connection test does); then the server changed.
    const pinned = e.peer.hostKeyFingerprint;
    await e.db.server.update({ where: { id: serverId }, data: { hostKeyFingerprint: pinned, hostKeyAlgorithm: "ssh-ed25519" } });
    const rotated = e.peer.rotateHostKey();

    const rule = await e.api.firewall.create({ serverId, name: "web", port: "443", protocol: "tcp", action: "allow", source: "" });
    const expected = `Host key for 127.0.0.1:${e.peer.port} changed: expected ${pinned}, got ${rotated}`;
    const failed = await eventually(async () => {
      const row = await e.db.firewallRule.findUnique({ where: { id: rule.id } });
      return row?.status === "failed" ? row : null;
    });
    expect(failed.errorLog).toContain(expected);
    const op = await e.db.operation.findFirstOrThrow({ where: { resourceId: rule.id } });
    expect(op).toMatchObject({ state: "failed", errorLog: expect.stringContaining(expected) });
    expect(await activityRuns(op.workflowId!, "runMilestone")).toEqual([
      expect.objectContaining({ attempts: 1, outcome: "failed", failureType: "SshPermanent", nonRetryable: true }),
    ]);
    expect(e.peer.execsFor(serverId)).toHaveLength(0);
    expect((await serverRow(serverId)).hostKeyFingerprint).toBe(pinned);
  });
});
