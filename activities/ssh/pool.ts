// One SSH connection per server per worker process, reused across milestones and operations
// (a new connection costs ~85 ms, a channel on an open one far less). Idle connections close.
import { createHash } from "node:crypto";
import { connect, type SshConnection } from "./client";
import { loadTarget } from "../targets";
import { pinHostKey } from "../host-keys";

const IDLE_MS = 30_000;

interface Entry {
  conn: Promise<SshConnection>;
  /** Identity the connection was made for; a changed address, user or key makes a new one. */
  identity: string;
  timer?: NodeJS.Timeout;
}

const pool = new Map<string, Entry>();

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
    if (conn && !conn.closed) return touch(serverId, entry, conn);
    discard(serverId);
  }
  const fresh: Entry = {
    identity,
    conn: connect(target, { readyTimeoutMs: 10_000, keepaliveIntervalMs: 10_000 }).then(async (conn) => {
      if (!target.expectedHostKey) await pinHostKey(serverId, target.host, target.port, conn.hostKey);
      return conn;
    }),
  };
  pool.set(serverId, fresh);
  try {
    return touch(serverId, fresh, await fresh.conn);
  } catch (e) {
    if (pool.get(serverId) === fresh) pool.delete(serverId);
    throw e;
  }
}

function touch(serverId: string, entry: Entry, conn: SshConnection): SshConnection {
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => discard(serverId), IDLE_MS);
  entry.timer.unref();
  return conn;
}

/** Close and forget a server's connection (after a transport fault, or when idle). */
export function discard(serverId: string): void {
  const entry = pool.get(serverId);
  if (!entry) return;
  pool.delete(serverId);
  clearTimeout(entry.timer);
  entry.conn.then((c) => c.close(), () => {});
}

export function closeAll(): void {
  for (const id of [...pool.keys()]) discard(id);
}
