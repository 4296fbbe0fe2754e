// Trust on first use: the first successful connection pins the server's host key; later
// connections must present the same key (checked by the SSH client), or are refused.
import { db } from "../core/db";
import { sshError } from "./ssh/errors";

export async function pinHostKey(
  serverId: string,
  host: string,
  port: number,
  key: { fingerprint: string; algorithm: string },
): Promise<void> {
  const { count } = await db().server.updateMany({
    where: { id: serverId, hostKeyFingerprint: null },
    data: { hostKeyFingerprint: key.fingerprint, hostKeyAlgorithm: key.algorithm },
  });
  if (count === 1) return;
  // Someone pinned concurrently (or the server is gone): the pinned key must match.
  const pinned = await db().server.findUnique({ where: { id: serverId }, select: { hostKeyFingerprint: true } });
  if (pinned?.hostKeyFingerprint && pinned.hostKeyFingerprint !== key.fingerprint) {
    throw sshError("host_key_mismatch", { host, port, expectedHostKey: pinned.hostKeyFingerprint, actualHostKey: key.fingerprint });
  }
}

/** A successful login proves the connection: the server page should not say "Not tested". */
export async function markConnected(serverId: string): Promise<void> {
  await db().server.updateMany({
    where: { id: serverId, connectionStatus: { not: "connected" } },
    data: { connectionStatus: "connected", connectionError: null, lastConnectedAt: new Date() },
  });
}
