// The container's network: a new network namespace held by a `sleep` (started with
// `unshare --net`), whose only way out is slirp4netns attached to it:
//
//   host 127.0.0.1:P ──slirp4netns──▶ tap0 10.0.2.100:P
//   container ──▶ 10.0.2.2 gateway ──slirp4netns──▶ host sockets ──▶ deb.debian.org
//
// `--configure` gives outbound NAT (10.0.2.0/24, DNS 10.0.2.3); port forwards are added at run
// time through slirp4netns's API socket (add_hostfwd). Both helpers run under
// `setpriv --pdeathsig`, so they die with the test process.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../../scripts/infra/ports";
import type { Run } from "./run-dir";

export interface Netns {
  /** The process holding the namespace: nspawn joins /proc/<pid>/ns/net. */
  holderPid: number;
  /** Forwards a free 127.0.0.1 port to `guestPort` (default: the same number) inside; returns the host port. */
  forward(guestPort?: number): Promise<number>;
}

/**
 * `hostLoopback`: 10.0.2.2 reaches the host's 127.0.0.1 (for the apt cache; apt-cache.ts
 * fences it to the cache's port with nft). Without it slirp4netns gets --disable-host-loopback.
 */
export async function startNetwork(run: Run, opts: { hostLoopback: boolean }): Promise<Netns> {
  const holder = spawn("setpriv", ["--pdeathsig", "KILL", "--", "unshare", "--net", "--", "sleep", "infinity"], { stdio: "ignore" });
  run.track("holder", holder);
  // unshare execs sleep in the same process: wait until it did, i.e. it has its own netns.
  const hostNetns = execFileSync("readlink", ["/proc/self/ns/net"], { encoding: "utf8" }).trim();
  for (let i = 0; ; i++) {
    const ns = spawnSync("readlink", [`/proc/${holder.pid}/ns/net`], { encoding: "utf8" }).stdout.trim();
    const comm = spawnSync("cat", [`/proc/${holder.pid}/comm`], { encoding: "utf8" }).stdout.trim();
    if (ns && ns !== hostNetns && comm === "sleep") break;
    if (i > 100) throw new Error("unshare --net did not create a network namespace");
    await sleep(20);
  }

  const apiSocket = path.join(run.dir, "slirp.sock");
  const slirpLogPath = path.join(run.dir, "slirp.log");
  const slirpLog = openSync(slirpLogPath, "a");
  // Flags and their values grouped a line each (kept out of the formatter's one-per-line layout).
  // prettier-ignore
  const argv = [
    '--pdeathsig', 'KILL', '--', 'slirp4netns',
    '--configure', '--mtu=65520', ...(opts.hostLoopback ? [] : ['--disable-host-loopback']),
    '--api-socket', apiSocket, '--ready-fd', '3',
    String(holder.pid), 'tap0',
  ];
  const slirp = spawn("setpriv", argv, { stdio: ["ignore", slirpLog, slirpLog, "pipe"] });
  closeSync(slirpLog);
  run.track("slirp", slirp);
  const slirpLogText = () => (existsSync(slirpLogPath) ? readFileSync(slirpLogPath, "utf8") : "");
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      slirp.off("exit", onExit);
      if (err) reject(err);
      else resolve();
    };
    const onExit = (code: number | null) => done(new Error(`slirp4netns exited (${code}): ${slirpLogText()}`));
    const timer = setTimeout(() => done(new Error(`slirp4netns not ready after 10 s: ${slirpLogText()}`)), 10_000);
    (slirp.stdio[3] as NodeJS.ReadableStream).once("data", () => done());
    slirp.once("exit", onExit);
  });

  return { holderPid: holder.pid!, forward: (guestPort) => addHostForward(apiSocket, guestPort) };
}

/** Forwards a free 127.0.0.1 port to `guestPort` (default: the same number) in the container. */
async function addHostForward(socket: string, guestPort?: number): Promise<number> {
  let lastError = "";
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = await freePort(); // another process may grab it first: then try another
    const answer = await slirpApi(socket, {
      execute: "add_hostfwd",
      arguments: { proto: "tcp", host_addr: "127.0.0.1", host_port: port, guest_port: guestPort ?? port },
    });
    if (answer.return) return port;
    lastError = answer.error?.desc ?? JSON.stringify(answer);
  }
  throw new Error(`slirp4netns could not forward a port to ${guestPort ?? "the same port"}: ${lastError}`);
}

/** One request on slirp4netns's API socket (JSON in, JSON out, one connection each). */
function slirpApi(socket: string, request: object): Promise<{ return?: { id?: number }; error?: { desc?: string } }> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socket);
    let buf = "";
    c.on("connect", () => c.end(JSON.stringify(request)));
    c.on("data", (d) => (buf += d));
    c.on("error", reject);
    c.on("close", () => {
      try {
        resolve(JSON.parse(buf));
      } catch {
        reject(new Error(`slirp4netns API: unexpected answer ${JSON.stringify(buf)}`));
      }
    });
  });
}
