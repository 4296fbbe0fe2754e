/**
 * Real Debian 12 servers for tests: a debootstrapped bookworm tree (built once, cached under
 * .cache/debian/bookworm-<recipe hash>) booted per test file with systemd-nspawn, in its own
 * network namespace whose only way out is slirp4netns (outbound NAT to Debian's mirror, and
 * port forwards from 127.0.0.1:<free port> into the container) — or, with mode 'qemu', as a VM.
 * Every server is a throwaway overlay over the cached tree; stop() (or the exit hook, or the
 * sweep of the next run) removes everything it made.
 *
 * Needs root (mount, namespaces, nspawn). Missing host tools are apt-installed
 * (scripts/debian/host-deps.sh). One module per concern:
 *   tree.ts     host tools and the cached tree        overlay.ts  the server's copy and identity
 *   network.ts  network namespace + slirp4netns       nspawn.ts   container boot and reboot
 *   qemu.ts     the VM, QMP port forwards             ssh.ts      readiness: a real login
 *   run-dir.ts  run dir, teardown, sweeps, exit hook  boot.ts     bootDebian, the server object
 */
export { bootDebian } from "./boot";
export { sweepLeftovers } from "./run-dir";
export { CACHE_ROOT, ensureHostTools, ensureTree } from "./tree";
export type { BootMode, BootOptions, DebianServer, DebianServerExtras } from "./types";
