// The harness's public shapes (re-exported by index.ts), and the one every boot mode implements.
import type { ExecResult } from "../../../activities/ssh/client";

export interface DebianServer {
  /** nspawn machine name (unique per boot). */
  name: string;
  host: "127.0.0.1";
  /** Host port forwarded to the container's sshd, which listens on the same number. */
  sshPort: number;
  /** SHA256 fingerprints of the host keys generated for this boot (any one may be negotiated). */
  hostKeyFingerprints: string[];
  /** The container's root as seen from the host (the overlay's merged dir). */
  rootDir: string;
  /** Runs a command as root over the harness's own key (one SSH connection, reused). */
  exec(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Like exec, but throws with the output unless it exits 0; returns stdout. */
  sh(command: string, opts?: { timeoutMs?: number }): Promise<string>;
  /** A brand-new SSH connection + `true`: proves new logins still get through (firewall!). */
  sshTrue(timeoutMs?: number): Promise<void>;
  /** Appends a public key line to /root/.ssh/authorized_keys (as a human would over SSH). */
  authorize(publicKey: string): Promise<void>;
  /** Forwards a free 127.0.0.1 port to `guestPort` in the container; returns the host port. */
  forward(guestPort: number): Promise<number>;
  /** Everything the container printed on its console so far. */
  consoleLog(): string;
  /** Milliseconds from spawning nspawn to the first successful `ssh true`. */
  bootMs: number;
  /** The Debian release it runs. */
  suite: DebianSuite;
  /**
   * Makes Debian's mirror unreachable from this server only (the shared apt cache and any
   * http/https connection are refused) until unblockMirror(): an apt download fails at once,
   * even of .debs the cache holds. nspawn mode only.
   */
  blockMirror(): Promise<void>;
  unblockMirror(): Promise<void>;
  /**
   * Lets this server open connections to the host's 127.0.0.1:`port` at 10.0.2.2 (a fixture the
   * test started on the host, e.g. tests/fixtures/git-server.ts); by default only the apt
   * cache's port gets through. Stays open while the mirror is blocked. Needs the apt cache
   * (the default): with `aptCache: false` the host is unreachable.
   */
  allowHostPort(port: number): Promise<void>;
  stop(): Promise<void>;
}

export type BootMode = "nspawn" | "qemu";

/** Debian 12 or Debian 13. */
export type DebianSuite = "bookworm" | "trixie";

export interface BootOptions {
  /** Machine name prefix (shows in logs). */
  label?: string;
  /**
   * nspawn (default): a container on the host's kernel, boots in ~1 s.
   * qemu: a VM with Debian's own kernel (software emulation: boot ≈ 40 s, apt ≈ 10× slower).
   */
  mode?: BootMode;
  /** Debian release (default bookworm). */
  suite?: DebianSuite;
  /**
   * apt downloads through the shared apt-cacher-ng on the host (default true). False: straight
   * to Debian's mirror, and the server cannot reach the host's loopback at all.
   */
  aptCache?: boolean;
}

export interface DebianServerExtras {
  mode: BootMode;
  /** Reboots for real (`systemctl reboot`) and waits for SSH with a new boot id. Returns ms. */
  reboot(): Promise<number>;
  /** /proc/sys/kernel/random/boot_id */
  bootId(): Promise<string>;
}

/** A started machine (nspawn.ts, qemu.ts), as boot.ts needs it. */
export interface Machine {
  /** Host port on 127.0.0.1 that reaches sshd, which listens on the same number inside. */
  sshPort: number;
  /** Forwards a free 127.0.0.1 port to `guestPort` inside; returns the host port. */
  forward(guestPort: number): Promise<number>;
  /** Date.now() when the machine was spawned. */
  startedAt: number;
  /** Why the machine is gone for good, or null while it runs (or reboots). */
  exitReason(): string | null;
  /** The process holding the machine's network namespace (nspawn only; QEMU has none). */
  netnsPid?: number;
}
