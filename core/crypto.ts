// Secrets at rest: AES-256-GCM with a random 96-bit IV per value. The associated data
// binds a ciphertext to the row it belongs to, so a value copied to another row fails.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { sharedEnv } from "./env";

const VERSION = "v1";

function key(): Buffer {
  return Buffer.from(sharedEnv().BROKEFORGE_ENCRYPTION_KEY, "base64");
}

export function encryptSecret(plaintext: string, aad: string, k: Buffer = key()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", k, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [VERSION, iv.toString("base64"), cipher.getAuthTag().toString("base64"), ct.toString("base64")].join(":");
}

export function decryptSecret(stored: string, aad: string, k: Buffer = key()): string {
  const [version, iv, tag, ct] = stored.split(":");
  // ct may be "": an empty value (a site's .env before anyone writes one) encrypts to no bytes.
  if (version !== VERSION || !iv || !tag || ct === undefined) throw new Error("Unrecognised secret format");
  const decipher = createDecipheriv("aes-256-gcm", k, Buffer.from(iv, "base64"));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64")), decipher.final()]).toString("utf8");
}

/** Random URL-safe token and its sha256 (only the hash is stored). */
export function newToken(prefix: string): { token: string; hash: string } {
  const token = `${prefix}${randomBytes(32).toString("base64url")}`;
  return { token, hash: sha256(token) };
}

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}
