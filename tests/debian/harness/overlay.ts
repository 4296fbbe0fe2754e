// A throwaway copy of the cached tree for one server, and its identity: an overlayfs (upper and
// work in the run dir) over the read-only tree, fresh SSH host keys, the harness's own key for
// root, and the port sshd listens on.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fingerprintOfPublicKey, generateKeyPair, type KeyPair } from "../../../activities/ssh/keys";
import type { Run } from "./run-dir";

export interface Provisioned {
  /** SHA256 fingerprints of the host keys generated for this boot (any one may be negotiated). */
  hostKeyFingerprints: string[];
  /** The harness's login as root (authorized in /root/.ssh/authorized_keys). */
  harnessKey: KeyPair;
}

export function provisionOverlay(run: Run, tree: string): Provisioned {
  const { dir, rootDir, machine } = run;
  for (const d of ["upper", "work", "root"]) mkdirSync(path.join(dir, d));
  const overlay = spawnSync(
    "mount",
    ["-t", "overlay", "overlay", "-o", `lowerdir=${tree},upperdir=${dir}/upper,workdir=${dir}/work`, rootDir],
    { encoding: "utf8" },
  );
  if (overlay.status === 0) {
    run.setMounted(true);
  } else {
    console.warn(`[debian] overlayfs unavailable (${overlay.stderr.trim()}): copying the tree instead`);
    rmSync(rootDir, { recursive: true });
    execFileSync("cp", ["-a", "--reflink=auto", tree, rootDir]);
  }

  execFileSync("ssh-keygen", ["-q", "-A", "-f", rootDir]);
  const hostKeyFingerprints = readdirSync(path.join(rootDir, "etc/ssh"))
    .filter((f) => /^ssh_host_.*_key\.pub$/.test(f))
    .map((f) => fingerprintOfPublicKey(readFileSync(path.join(rootDir, "etc/ssh", f), "utf8")));
  const harnessKey = generateKeyPair(`brokeforge-test-harness@${machine}`);
  mkdirSync(path.join(rootDir, "root/.ssh"), { recursive: true, mode: 0o700 });
  writeFileSync(path.join(rootDir, "root/.ssh/authorized_keys"), `${harnessKey.publicKey}\n`, { mode: 0o600 });
  return { hostKeyFingerprints, harnessKey };
}

/**
 * sshd listens on the SAME port number as the host forward: BrokeForge's firewall allows "the
 * server's SSH port" (the port it connects to) before enabling ufw, so behind a port-translating
 * NAT it would lock itself out. Same number = a normal server.
 */
export function setSshPort(rootDir: string, port: number): void {
  writeFileSync(path.join(rootDir, "etc/ssh/sshd_config.d/10-test-port.conf"), `Port ${port}\n`);
}
