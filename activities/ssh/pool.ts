// One SSH connection per server per worker process, reused across milestones and operations
// (a new connection costs ~85 ms, a channel on an open one far less). A connection closes after
// it has been idle — no command running on it — for a while.
import { createHash } from "node:crypto";
import { connect, type SshConnection } from "./client";
import { loadTarget } from "../targets";
import { markConnected, pinHostKey } from "../host-keys";

/** How long an idle connection stays open in production: long enough to carry one operation's milestones to the next. */
export const DEFAULT_IDLE_MS = 30_000;

export interface SshPoolOptions {
  /** Close a connection once no command has run on it for this long (default DEFAULT_IDLE_MS). */
  idleMs?: number;
}

interface Entry {
  conn: Promise<SshConnection>;
  /** Identity the connection was made for; a changed address, user or key makes a new one. */
  identity: string;
  /** Commands running on it: never close a connection under one (apt can run for minutes). */
  users: number;
  timer?: NodeJS.Timeout;
}

export class SshPool {
  readonly idleMs: number;
  #entries = new Map<string, Entry>();

  constructor(opts: SshPoolOptions = {}) {
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** A connection to the server for one command; give it back with `release`. */
  async acquire(serverId: string): Promise<SshConnection> {
    const target = await loadTarget(serverId);
    // Not the pinned host key: pinning on first contact must not drop the connection in use.
    const identity = `${target.username}@${target.host}:${target.port}|${createHash("sha256").update(target.privateKey).digest("hex")}`;
    let entry = this.#entries.get(serverId);
    if (entry && entry.identity !== identity) {
      this.discard(serverId);
      entry = undefined;
    }
    if (entry) {
      const conn = await entry.conn.catch(() => null);
      if (conn && !conn.closed) return use(entry, conn);
      this.discard(serverId);
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
    this.#entries.set(serverId, fresh);
    try {
      return use(fresh, await fresh.conn);
    } catch (e) {
      if (this.#entries.get(serverId) === fresh) this.#entries.delete(serverId);
      throw e;
    }
  }

  /** The command is done: the connection stays open for the next one, closing once idle. */
  release(serverId: string, conn: SshConnection): void {
    const entry = this.#entries.get(serverId);
    if (!entry) return conn.close();
    entry.users = Math.max(0, entry.users - 1);
    if (entry.users > 0) return;
    entry.timer = setTimeout(() => entry.users === 0 && this.#entries.get(serverId) === entry && this.discard(serverId), this.idleMs);
    entry.timer.unref();
  }

  /** Close and forget a server's connection (after a transport fault, or when idle). */
  discard(serverId: string): void {
    const entry = this.#entries.get(serverId);
    if (!entry) return;
    this.#entries.delete(serverId);
    clearTimeout(entry.timer);
    entry.conn.then(
      (c) => c.close(),
      () => {},
    );
  }

  closeAll(): void {
    for (const id of [...this.#entries.keys()]) this.discard(id);
  }
}

function use(entry: Entry, conn: SshConnection): SshConnection {
  entry.users++;
  clearTimeout(entry.timer);
  return conn;
}

/** The worker's pool, with the production idle time: what the activities use. */
export const sshPool = new SshPool();

export const acquire = (serverId: string): Promise<SshConnection> => sshPool.acquire(serverId);
export const release = (serverId: string, conn: SshConnection): void => sshPool.release(serverId, conn);
export const discard = (serverId: string): void => sshPool.discard(serverId);
export const closeAll = (): void => sshPool.closeAll();
