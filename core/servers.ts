// Creating a server: the row plus two ed25519 key pairs (login user and the "brokeforge"
// site user), private halves encrypted and bound to (server, kind).
import { generateKeyPair } from "../activities/ssh/keys";
import { quote } from "../activities/ssh/shell";
import type { ProvisioningInput } from "../domain/roles";
import type { ServerInput } from "../domain/schemas";
import { encryptSecret } from "./crypto";
import { db } from "./db";

export const CREDENTIAL_KINDS = ["root", "brokeforge"] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

export const credentialAad = (serverId: string, kind: CredentialKind) => `server:${serverId}:credential:${kind}`;

/**
 * The server, its two key pairs and, when a role was chosen, its provisioning (pending until the
 * first successful connection test starts it: core/provisioning.ts).
 */
export async function createServerWithKeys(userId: string, input: ServerInput, role?: ProvisioningInput): Promise<string> {
  return db().$transaction(async (tx) => {
    const server = await tx.server.create({ data: { userId, ...input }, select: { id: true } });
    if (role) await tx.provisioning.create({ data: { serverId: server.id, ...role } });
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

/**
 * The one line a user pastes on the server, as the login user (root or not: `~` is whoever
 * runs it, so ~/.ssh and the file are theirs, 700/600, as sshd's StrictModes wants). Works in
 * sh/dash as in bash. Pasting it twice adds nothing (`grep -qxF`). The key goes on a line of
 * its own even when the file does not end in a newline (a hand-edited file often doesn't, and
 * appending would glue our key to the last one, breaking both): the leading newline leaves at
 * most an empty line, which sshd skips.
 */
export function authorizeKeyCommand(publicKey: string): string {
  const key = quote(publicKey.trim());
  const file = "~/.ssh/authorized_keys";
  return [
    "mkdir -p ~/.ssh",
    "chmod 700 ~/.ssh",
    `{ grep -qxF ${key} ${file} 2>/dev/null || printf '\\n%s\\n' ${key} >> ${file}; }`,
    `chmod 600 ${file}`,
  ].join(" && ");
}
