import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fingerprintOfPublicKey, generateKeyPair, publicKeyOfPrivateKey } from "./keys";

describe("keys", () => {
  it("generates an ed25519 pair whose fingerprint matches ssh-keygen", () => {
    const k = generateKeyPair("brokeforge@web-1\nsneaky");
    expect(k.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(k.publicKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ brokeforge@web-1 sneaky$/);
    const dir = mkdtempSync(join(tmpdir(), "bf-keys-"));
    writeFileSync(join(dir, "k.pub"), `${k.publicKey}\n`);
    const ref = execFileSync("ssh-keygen", ["-lf", join(dir, "k.pub")], { encoding: "utf8" }).split(" ")[1];
    rmSync(dir, { recursive: true });
    expect(k.fingerprint).toBe(ref);
    expect(fingerprintOfPublicKey(k.publicKey)).toBe(ref);
  });

  it("derives the public key from the private key; rejects junk without echoing it", () => {
    const k = generateKeyPair("c");
    expect(publicKeyOfPrivateKey(k.privateKey, "c")).toBe(k.publicKey);
    expect(() => fingerprintOfPublicKey("ssh-ed25519 nope")).toThrow(/Not a valid SSH public key/);
    expect(() => publicKeyOfPrivateKey("TOPSECRET")).toThrow(/^(?!.*TOPSECRET)/);
  });
});
