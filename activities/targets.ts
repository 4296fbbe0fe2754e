// Loads what an activity needs to reach a server: address, login user, decrypted key and
// the pinned host key. Decrypted keys stay in this process's memory only.
import { credentialAad, type CredentialKind } from "../core/servers";
import { decryptSecret } from "../core/crypto";
import { db } from "../core/db";
import type { SshTarget } from "./ssh/client";

export class ServerGoneError extends Error {}

export async function loadTarget(serverId: string, kind: CredentialKind = "root"): Promise<SshTarget & { serverId: string }> {
  const server = await db().server.findUnique({
    where: { id: serverId },
    include: { credentials: { where: { kind } } },
  });
  const credential = server?.credentials[0];
  if (!server || !credential) throw new ServerGoneError(`Server ${serverId} no longer exists`);
  return {
    serverId,
    host: server.host,
    port: server.sshPort,
    username: kind === "root" ? server.sshUser : "brokeforge",
    privateKey: decryptSecret(credential.privateKeyEncrypted, credentialAad(serverId, kind)),
    expectedHostKey: server.hostKeyFingerprint,
  };
}
