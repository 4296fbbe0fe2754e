/**
 * Key material helpers. Fingerprints use OpenSSH's format (`ssh-keygen -lf`):
 * "SHA256:" + base64 (no `=` padding) of SHA-256 over the wire-format key blob.
 */
import { createHash } from "node:crypto";
import ssh2 from "ssh2";

const { utils } = ssh2;

export interface KeyPair {
  /** OpenSSH private key ("-----BEGIN OPENSSH PRIVATE KEY-----"). Never log it. */
  privateKey: string;
  /** One authorized_keys line: "ssh-ed25519 AAAA… comment". */
  publicKey: string;
  fingerprint: string;
}

export function generateKeyPair(comment: string): KeyPair {
  // The comment lands in authorized_keys: keep it to one printable line.
  const safeComment = comment.replace(/[\r\n\t]+/g, " ").trim();
  // ssh2's generator drops a leading zero byte of the public key about once in 300 pairs,
  // giving a 31-byte key that nothing parses: generate again until both halves parse.
  for (let attempt = 1; ; attempt++) {
    const { private: privateKey, public: publicKey } = utils.generateKeyPairSync("ed25519", { comment: safeComment });
    if (!(utils.parseKey(privateKey) instanceof Error) && !(utils.parseKey(publicKey) instanceof Error)) {
      return { privateKey, publicKey, fingerprint: fingerprintOfPublicKey(publicKey) };
    }
    if (attempt >= 20) throw new Error("Could not generate a valid ed25519 key pair");
  }
}

export function fingerprintOfKeyBlob(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Algorithm name stored at the start of a wire-format key blob, e.g. "ssh-ed25519". */
export function algorithmOfKeyBlob(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const len = blob.readUInt32BE(0);
  return len > 0 && len < 64 && blob.length >= 4 + len ? blob.subarray(4, 4 + len).toString("latin1") : "unknown";
}

/** Fingerprint of an authorized_keys-style line ("ssh-ed25519 AAAA… comment"). */
export function fingerprintOfPublicKey(line: string): string {
  const parsed = utils.parseKey(line.trim());
  if (parsed instanceof Error) throw new Error(`Not a valid SSH public key: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return fingerprintOfKeyBlob(key.getPublicSSH());
}

/** The public key line for a private key (e.g. to show it again on the server page). */
export function publicKeyOfPrivateKey(privateKey: string, comment = ""): string {
  const parsed = utils.parseKey(privateKey);
  if (parsed instanceof Error) throw new Error(`Not a valid SSH private key: ${parsed.message}`); // message never contains the key
  const key = Array.isArray(parsed) ? parsed[0]! : parsed;
  return `${key.type} ${key.getPublicSSH().toString("base64")}${comment ? ` ${comment}` : ""}`;
}
