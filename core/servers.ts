// Creating a server: the row plus two ed25519 key pairs (login user and the "brokeforge"
// site user), private halves encrypted and bound to (server, kind).
import { generateKeyPair } from "../activities/ssh/keys";
import { quote } from "../activities/ssh/shell";
import type { ServerInput } from "../domain/schemas";
import { encryptSecret } from "./crypto";
import { db } from "./db";

export const CREDENTIAL_KINDS = ["root", "brokeforge"] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

export const credentialAad = (serverId: string, kind: CredentialKind) => `server:${serverId}:credential:${kind}`;

export async function createServerWithKeys(userId: string, input: ServerInput): Promise<string> {
  return db().$transaction(async (tx) => {
    const server = await tx.server.create({ data: { userId, ...input }, select: { id: true } });
    for (const kind of CREDENTIAL_KINDS) {
      const pair = generateKeyPair(`brokeforge-${kind}@${server.id}`);
      await tx.serverCredential.create({
        data: {
          serverId: server.id,
          kind,
          publicKey: pair.publicKey,
          privateKeyEncrypted: encryptSecret(pair.privateKey, credentialAad(server.id, kind)),
        },
      });
    }
    return server.id;
  });
}

/** The one line a user pastes on the server (as the login user) to authorize a key. */
export function authorizeKeyCommand(publicKey: string): string {
  return `mkdir -p ~/.ssh && chmod 700 ~/.ssh && echo ${quote(publicKey)} >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys`;
}
