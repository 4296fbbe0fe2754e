// One SSH connection per server per worker process, reused across milestones and operations
// (a new connection costs ~85 ms, a channel on an open one far less). A connection closes after
// it has been idle — no command running on it — for a while.
import { createHash } from "node:crypto";
import { connect, type SshConnection } from "./client";
import { loadTarget } from "../targets";
import { markConnected, pinHostKey } from "../host-keys";

const IDLE_MS = 30_000;

interface Entry {
  conn: Promise<SshConnection>;
  /** Identity the connection was made for; a changed address, user or key makes a new one. */
  identity: string;
  /** Commands running on it: never close a connection under one (apt can run for minutes). */
  users: number;
  timer?: NodeJS.Timeout;
}

const pool = new Map<string, Entry>();

/** A connection to the server for one command; give it back with `release`. */
export async function acquire(serverId: string): Promise<SshConnection> {
  const target = await loadTarget(serverId);
  // Not the pinned host key: pinning on first contact must not drop the connection in use.
  const identity = `${target.username}@${target.host}:${target.port}|${createHash("sha256").update(target.privateKey).digest("hex")}`;
  let entry = pool.get(serverId);
  if (entry && entry.identity !== identity) {
    discard(serverId);
    entry = undefined;
  }
  if (entry) {
    const conn = await entry.conn.catch(() => null);
    if (conn && !conn.closed) return use(entry, conn);
    discard(serverId);
  }
  const fresh: Entry = {
    identity,
    users: 0,
    conn: connect(target, { readyTimeoutMs: 10_000, keepaliveIntervalMs: 10_000 }).then(async (conn) => {
      if (!target.expectedHostKey) await pinHostKey(serverId, target.host, target.port, conn.hostKey);
      await markConnected(serverId);
      return conn;
    }),
  };
  pool.set(serverId, fresh);
  try {
    return use(fresh, await fresh.conn);
  } catch (e) {
    if (pool.get(serverId) === fresh) pool.delete(serverId);
    throw e;
  }
}

function use(entry: Entry, conn: SshConnection): SshConnection {
  entry.users++;
  clearTimeout(entry.timer);
  return conn;
}

/** The command is done: the connection stays open for the next one, closing once idle. */
export function release(serverId: string, conn: SshConnection): void {
  const entry = pool.get(serverId);
  if (!entry) return conn.close();
  entry.users = Math.max(0, entry.users - 1);
  if (entry.users > 0) return;
  entry.timer = setTimeout(() => entry.users === 0 && pool.get(serverId) === entry && discard(serverId), IDLE_MS);
  entry.timer.unref();
}

/** Close and forget a server's connection (after a transport fault, or when idle). */
export function discard(serverId: string): void {
  const entry = pool.get(serverId);
  if (!entry) return;
  pool.delete(serverId);
  clearTimeout(entry.timer);
  entry.conn.then(
    (c) => c.close(),
    () => {},
  );
}

export function closeAll(): void {
  for (const id of [...pool.keys()]) discard(id);
}
