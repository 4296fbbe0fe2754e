// The apt cache every test server's apt goes through, and the per-server "Debian's mirror is
// unreachable" switch.
//
// Cache: one apt-cacher-ng on 127.0.0.1 (scripts/debian/apt-cache.sh starts it once under an
// flock, detached, cache in .cache/debian/apt-cacher-ng; later test files and runs reuse it), so
// ten containers installing nginx download its .debs from Debian once. A server is pointed at
// it by an apt.conf.d file written into its overlay at boot (not baked into the tree: a test can
// delete the file, or boot with `aptCache: false`). Containers reach it at 10.0.2.2, slirp4netns'
// gateway, which maps to the host's loopback; a VM's QEMU user-mode gateway does the same.
//
// Mapping the host's loopback would also let the container reach everything else listening on
// 127.0.0.1 (the suite's Postgres, Temporal, other servers' SSH forwards): an nft table in the
// container's network namespace, set from the host, rejects new connections to 10.0.2.2 on
// any other port (but those a test opens with server.allowHostPort, e.g. a git server's). The same table holds the mirror switch: while blocked, new connections to the
// apt cache and to ports 80/443 anywhere are rejected (TCP reset, so apt fails at once instead
// of waiting for timeouts) — from this server only, other servers keep the shared cache. The
// table lives in the namespace, not in the server's files: `ufw` (iptables-nft, its own tables)
// leaves it alone; only an `nft flush ruleset` inside the server would remove it.
import { spawn } from "node:child_process";
import path from "node:path";
import { CACHE_ROOT, SCRIPTS, runCollect } from "./tree";

/** slirp4netns' and QEMU user-mode networking's gateway: the host's loopback, seen from inside. */
export const HOST_FROM_GUEST = "10.0.2.2";
/** The file in the server that points apt at the cache (delete it to go to Debian directly). */
export const APT_PROXY_CONF = "/etc/apt/apt.conf.d/80brokeforge-test-apt-cache";
export const APT_CACHE_DIR = path.join(CACHE_ROOT, "apt-cacher-ng");

let started: Promise<number> | undefined;

/** Port of the shared apt-cacher-ng on 127.0.0.1, starting it when nobody has. */
export function ensureAptCache(): Promise<number> {
  return (started ??= (async () => {
    const { code, stdout, stderr } = await runCollect("bash", [path.join(SCRIPTS, "apt-cache.sh"), CACHE_ROOT]);
    const port = Number(stdout.trim().split("\n").at(-1));
    if (code !== 0 || !Number.isInteger(port) || port <= 0) {
      started = undefined; // the next boot tries again
      throw new Error(`Starting the apt cache (apt-cacher-ng) failed (exit ${code}):\n${stderr.slice(-4000)}`);
    }
    if (/started/.test(stderr)) console.log(`[debian] ${stderr.trim().split("\n").at(-1)}`);
    return port;
  })());
}

/** apt.conf.d text pointing a server's http downloads at the cache. */
export function aptProxyConf(port: number): string {
  return (
    "// Written by the BrokeForge test harness at boot (tests/debian/harness/apt-cache.ts), not part of\n" +
    "// the image: apt's http downloads go through the host's shared apt-cacher-ng.\n" +
    `Acquire::http::Proxy "http://${HOST_FROM_GUEST}:${port}/";\n`
  );
}

/**
 * nft script for the server's network namespace: the host's loopback only on the cache's port
 * and the `hostPorts` a test opened (server.allowHostPort: e.g. a git server fixture), and,
 * when `blocked`, no apt cache and no http(s) at all. Re-applying replaces the table.
 */
export function netnsRules(proxyPort: number, blocked: boolean, hostPorts: readonly number[] = []): string {
  const lines = [
    "table inet brokeforge_harness",
    "delete table inet brokeforge_harness",
    "table inet brokeforge_harness {",
    "  chain output {",
    "    type filter hook output priority filter; policy accept;",
  ];
  if (blocked) {
    lines.push(
      `    ip daddr ${HOST_FROM_GUEST} tcp dport ${proxyPort} reject with tcp reset`,
      "    tcp dport { 80, 443 } ct state new reject with tcp reset",
    );
  }
  // Accepted before the reject below; blocking the mirror leaves them open (they are no mirror).
  for (const port of hostPorts) lines.push(`    ip daddr ${HOST_FROM_GUEST} tcp dport ${port} accept`);
  lines.push(`    ip daddr ${HOST_FROM_GUEST} ct state new tcp dport != ${proxyPort} reject with tcp reset`);
  lines.push(`    ip daddr ${HOST_FROM_GUEST} ct state new meta l4proto != tcp reject`);
  lines.push("  }", "}");
  return lines.join("\n") + "\n";
}

/** Loads an nft script into the network namespace held by `netnsPid` (the host's nft, via nsenter). */
export function applyNetnsRules(netnsPid: number, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("nsenter", [`--net=/proc/${netnsPid}/ns/net`, "--", "nft", "-f", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`nft in the server's network namespace failed (${code}): ${out}\n${script}`)),
    );
    child.stdin.end(script);
  });
}
