/**
 * Real Debian servers for tests: a debootstrapped bookworm (default) or trixie tree (built once,
 * cached under .cache/debian/<suite>-<flavor>-<recipe hash>) booted per test file with systemd-nspawn, in its own
 * network namespace whose only way out is slirp4netns (outbound NAT to Debian's mirror, and
 * port forwards from 127.0.0.1:<free port> into the container; apt through a shared apt-cacher-ng
 * on the host) — or, with mode 'qemu', as a VM.
 * Every server is a throwaway overlay over the cached tree; stop() (or the exit hook, or the
 * sweep of the next run) removes everything it made.
 *
 * Needs root (mount, namespaces, nspawn). Missing host tools are apt-installed
 * (scripts/debian/host-deps.sh). One module per concern:
 *   tree.ts     host tools and the cached tree        overlay.ts  the server's copy and identity
 *   network.ts  network namespace + slirp4netns       nspawn.ts   container boot and reboot
 *   qemu.ts     the VM, QMP port forwards             ssh.ts      readiness: a real login
 *   run-dir.ts  run dir, teardown, sweeps, exit hook  boot.ts     bootDebian, the server object
 *   apt-cache.ts  the shared apt cache, the per-server "mirror unreachable" switch
 */
export { bootDebian } from "./boot";
export { sweepLeftovers } from "./run-dir";
export { APT_CACHE_DIR, APT_PROXY_CONF, ensureAptCache } from "./apt-cache";
export { CACHE_ROOT, ensureHostTools, ensureTree } from "./tree";
export type { BootMode, BootOptions, DebianServer, DebianServerExtras, DebianSuite } from "./types";
