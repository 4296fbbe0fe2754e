// Generated secrets of a server's packages (database root password, Redis password): made on
// the server's first plan that needs them, stored encrypted and bound to (server, name) like
// the SSH keys (core/crypto.ts). Plans get them in activities only (activities/plans.ts), so
// they never enter a Temporal history; the browser gets one only on the owner's explicit reveal.
import { randomBytes } from "node:crypto";
import { decryptSecret, encryptSecret } from "./crypto";
import { db } from "./db";

/** "<package type>.<name>": lower-case words, so a name can never smuggle anything anywhere. */
export const SECRET_NAME = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;

export const secretAad = (serverId: string, name: string) => `server:${serverId}:secret:${name}`;

/**
 * 32 characters of base64url (192 bits): no quotes, spaces or shell metacharacters, so a
 * config file or SQL literal that carries it needs no escaping (builders still check).
 */
export function generateSecretValue(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * The named secrets of a server, generating the missing ones. Safe under concurrency: a
 * secret two callers generate at once is inserted once (the unique key), and both read back
 * the stored one.
 */
export async function ensureSecrets(serverId: string, names: readonly string[]): Promise<Record<string, string>> {
  if (names.length === 0) return {};
  for (const name of names) if (!SECRET_NAME.test(name)) throw new Error(`Bad secret name ${JSON.stringify(name)}`);
  await db().serverSecret.createMany({
    data: names.map((name) => ({ serverId, name, valueEncrypted: encryptSecret(generateSecretValue(), secretAad(serverId, name)) })),
    skipDuplicates: true,
  });
  const rows = await db().serverSecret.findMany({ where: { serverId, name: { in: [...names] } } });
  return Object.fromEntries(rows.map((r) => [r.name, decryptSecret(r.valueEncrypted, secretAad(serverId, r.name))]));
}

/** One stored secret in clear, or null: for the owner's explicit reveal (ownership checked by the caller). */
export async function revealSecret(serverId: string, name: string): Promise<string | null> {
  const row = await db().serverSecret.findUnique({ where: { serverId_name: { serverId, name } } });
  return row ? decryptSecret(row.valueEncrypted, secretAad(serverId, name)) : null;
}

/** The names of a server's stored secrets (what the UI can offer to reveal). */
export async function secretNamesOf(serverId: string): Promise<string[]> {
  const rows = await db().serverSecret.findMany({ where: { serverId }, select: { name: true }, orderBy: { name: "asc" } });
  return rows.map((r) => r.name);
}
