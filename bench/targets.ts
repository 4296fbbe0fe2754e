// The servers the handoff and milestone-overhead figures are measured against, side by side:
//   peer    the in-process ssh2 test peer (tests/fixtures/ssh-peer/), one of its servers;
//   sshd    a real OpenSSH sshd on 127.0.0.1 (tests/fixtures/sshd.ts): THIS host, as root —
//           hence the harmless bench-note plan (bench-kind.ts), which only writes in a temp dir;
//   debian  a real Debian 12 container (tests/debian/harness, systemd-nspawn + slirp4netns),
//           where milestones run as systemd units like on a real server.
// sshd and debian need root; without it (or without the tools) a target is null with the reason.
// Every target is added to BrokeForge the way a user adds a server (create, authorize the
// generated key, test the connection, host key pinned), except the peer's (engine.addServer).
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gate } from "../tests/setup/engine";
import { parseTimes } from "./bench-kind";
import type { BenchEngine } from "./harness";
import { sleep } from "./operations";

export type TargetName = "peer" | "sshd" | "debian";

/** One server behind one target, ready for bench-note operations. */
export interface Target {
  name: TargetName;
  /** What the server is, in words (printed next to its figures). */
  what: string;
  serverId: string;
  /** Where the notes go on the server. */
  dir: string;
  /** Holds the first operation of a run until `release()` is called (peer: its gate; real: a file). */
  hold(): Promise<{ textOfFirst: string; release(): Promise<void> }>;
  /** Marks where a run starts (the peer's exec count). */
  mark(): number;
  /**
   * Start and end of each operation's command, in run order (epoch ms, this host's clock): the
   * peer's exec records, or the milestone's own clock stamps on a real server.
   */
  commandTimes(resourceIds: string[], mark: number): Promise<Array<{ startedAt: number; endedAt: number }>>;
  /** Removes what the bench left on the server (detached run dirs of these operations/runs). */
  cleanup(runNames: string[]): Promise<void>;
  stop(): Promise<void>;
}

export type TargetOrReason = { target: Target } | { reason: string };

/** The peer: one more server on the engine's test peer. */
export async function peerTarget(e: BenchEngine): Promise<Target> {
  const server = await e.addServer("notes-peer");
  const dir = "/tmp/bf-bench-notes";
  return {
    name: "peer",
    what: "in-process ssh2 test peer (tests/fixtures/ssh-peer/)",
    serverId: server.id,
    dir,
    async hold() {
      const g = gate();
      let held = false;
      e.peer.script(async (_cmd, ctx) => {
        if (ctx.serverKey === server.id && !held) {
          held = true;
          await g.opened;
        }
        return undefined;
      });
      return { textOfFirst: "first", release: async () => g.open() };
    },
    mark: () => e.peer.execsFor(server.id).length,
    async commandTimes(resourceIds, mark) {
      const offset = wallOffset();
      const execs = e.peer.execsFor(server.id).slice(mark);
      if (execs.length !== resourceIds.length)
        throw new Error(`peer: expected ${resourceIds.length} execs, saw ${execs.length} (retries?)`);
      return execs.map((x) => ({ startedAt: x.startedAt + offset, endedAt: (x.endedAt ?? NaN) + offset }));
    },
    cleanup: async () => {},
    stop: async () => void e.peer.script(() => undefined),
  };
}

/** A real OpenSSH sshd on this host (root only). */
export async function sshdTarget(e: BenchEngine): Promise<TargetOrReason> {
  if (process.getuid?.() !== 0) return { reason: "needs root (sshd logs in as root on this host)" };
  const { startSshd } = await import("../tests/fixtures/sshd");
  let sshd: Awaited<ReturnType<typeof startSshd>>;
  try {
    sshd = await startSshd();
  } catch (err) {
    return { reason: `sshd did not start: ${String(err instanceof Error ? err.message : err).split("\n")[0]}` };
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bf-bench-notes-"));
  try {
    const serverId = await addLikeAUser(e, "notes-sshd", sshd.port, (key) => sshd.authorize(key));
    const version = await sshVersion(sshd.port);
    // Debian's bash sources ~/.bashrc for every command sshd runs: this host's, which may be heavy.
    const bashrc = await fs.readFile("/root/.bashrc", "utf8").catch(() => "");
    const rcNote = /\beval\b|pyenv|nvm|conda/.test(bashrc)
      ? "; NOTE root's ~/.bashrc on this host runs tool init (pyenv…) on every exec"
      : "";
    return {
      target: {
        name: "sshd",
        what: `${version} on 127.0.0.1 (this host, login root; detached runs in setsid mode: systemd is not PID 1 here${rcNote})`,
        serverId,
        dir,
        ...fileHold(
          (p) => fs.writeFile(path.join(dir, p), ""),
          (p) => fs.rm(path.join(dir, p), { force: true }),
        ),
        mark: () => 0,
        commandTimes: (ids) => readTimes(ids, (id) => fs.readFile(path.join(dir, `${id}.times`), "utf8")),
        async cleanup(runNames) {
          // The runs' state dirs in root's default runs dir (activities/ssh/detached.ts): only ours.
          for (const name of runNames) await fs.rm(path.join("/var/lib/brokeforge/runs", name), { recursive: true, force: true });
        },
        async stop() {
          await sshd.stop();
          await fs.rm(dir, { recursive: true, force: true });
        },
      },
    };
  } catch (err) {
    await sshd.stop();
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A Debian 12 container (root only). Boots from the cached tree (built once, ~1 min, if missing). */
export async function debianTarget(e: BenchEngine, log: (s: string) => void): Promise<TargetOrReason> {
  if (process.getuid?.() !== 0) return { reason: "needs root (overlay mounts, network namespaces, systemd-nspawn)" };
  const { bootDebian } = await import("../tests/debian/harness");
  let server: Awaited<ReturnType<typeof bootDebian>>;
  const t = Date.now();
  try {
    server = await bootDebian({ label: "bench" });
  } catch (err) {
    return { reason: `the Debian container did not boot: ${String(err instanceof Error ? err.message : err).split("\n")[0]}` };
  }
  log(`  Debian container ${server.name} up in ${Date.now() - t} ms (boot to first SSH login ${server.bootMs} ms)`);
  const dir = "/root/bf-bench-notes";
  try {
    const serverId = await addLikeAUser(e, "notes-debian", server.sshPort, (key) => server.authorize(key));
    const release = (await server.sh("cat /etc/debian_version")).trim();
    const version = await sshVersion(server.sshPort);
    return {
      target: {
        name: "debian",
        what: `Debian ${release} container (systemd-nspawn, slirp4netns port forward), ${version}; detached runs as systemd units`,
        serverId,
        dir,
        ...fileHold(
          (p) => server.sh(`mkdir -p ${dir} && touch ${dir}/${p}`).then(() => undefined),
          (p) => server.sh(`rm -f ${dir}/${p}`).then(() => undefined),
        ),
        mark: () => 0,
        async commandTimes(ids) {
          // One read for all files: `name\ttimes` lines.
          const out = await server.sh(`cd ${dir} && for f in *.times; do printf '%s\\t%s\\n' "$f" "$(tr '\\n' ' ' < "$f")"; done`);
          const byId = new Map(
            out.split("\n").map((l) => [l.split("\t")[0]!.replace(/\.times$/, ""), (l.split("\t")[1] ?? "").replaceAll(" ", "\n")]),
          );
          return readTimes(ids, async (id) => byId.get(id) ?? "");
        },
        cleanup: async () => {}, // the container is thrown away
        stop: () => server.stop(),
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** The user's path: create, authorize the generated root key, test the connection, host key pinned. */
export async function addLikeAUser(
  e: BenchEngine,
  name: string,
  sshPort: number,
  authorize: (publicKey: string) => Promise<void>,
  provisioning?: { role: "app" | "web" | "database" | "worker" | "bare" },
): Promise<string> {
  const created = await e.api.servers.create({ name, host: "127.0.0.1", sshPort, sshUser: "root", provisioning });
  const detail = await e.api.servers.byId({ id: created.id });
  const key = detail.publicKeys.find((k) => k.kind === "root");
  if (!key) throw new Error(`${name}: BrokeForge generated no root key`);
  await authorize(key.publicKey);
  await e.api.servers.testConnection({ id: created.id });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await e.api.servers.byId({ id: created.id });
    if (s.connectionStatus === "connected") return created.id;
    if (s.connectionStatus === "failed") throw new Error(`${name}: connection test failed: ${s.connectionError}`);
    if (Date.now() > deadline) throw new Error(`${name}: connection test did not finish in 60 s`);
    await sleep(100);
  }
}

function fileHold(create: (p: string) => Promise<void>, remove: (p: string) => Promise<void>): Pick<Target, "hold"> {
  return {
    async hold() {
      await create("hold");
      return { textOfFirst: "hold", release: () => remove("hold") };
    },
  };
}

async function readTimes(ids: string[], read: (id: string) => Promise<string>) {
  const out: Array<{ startedAt: number; endedAt: number }> = [];
  for (const id of ids) {
    const t = parseTimes(await read(id).catch(() => ""));
    if (!t) throw new Error(`no clock stamps for operation of resource ${id} on the server`);
    out.push(t);
  }
  return out;
}

/** The server's SSH banner ("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" → "OpenSSH_9.2p1"). */
async function sshVersion(port: number): Promise<string> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = "";
    const done = (v: string) => (sock.destroy(), resolve(v));
    sock.setTimeout(3000, () => done("sshd"));
    sock.on("data", (b) => {
      buf += b.toString("latin1");
      if (buf.includes("\n"))
        done(
          buf
            .split(/\r?\n/)[0]!
            .replace(/^SSH-2\.0-/, "")
            .split(" ")[0]!,
        );
    });
    sock.on("error", () => done("sshd"));
  });
}

// Peer exec timestamps are performance.timeOrigin + now(); Temporal's event times are the wall
// clock. Convert with the offset measured at the time of use (the two can drift apart).
export const wallOffset = () => Date.now() - (performance.timeOrigin + performance.now());
