// The connection test's facts, end to end: the real probe over SSH to the executing peer, whose
// fake server runs real bash in a mount namespace of this machine, so /proc/meminfo, nproc, df,
// systemd-detect-virt and apt are this machine's. What the server overview shows must equal
// what this process reads itself. Real Postgres, Temporal and worker (tests/setup/app.ts).
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statfsSync } from "node:fs";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PackageDefinition } from "../../catalogue/kit";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { eventually, setupTestEnv, startTestWorker, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let peer: SshPeer;
let api: ReturnType<typeof import("../../trpc/router").createCaller>;

// Packages with variants, as the PHP package will be: one whose pattern this machine's apt
// (Debian 12) matches several times (llvm-13 … llvm-16 and newer from bookworm-security), one
// it matches never.
const LLVM_PATTERN = "^llvm-(\\d+)$";
const variantPackage = (type: string, aptPattern: string): PackageDefinition => ({
  type,
  name: type,
  label: type,
  description: "A package with variants, for the connection test's apt listing",
  aptPackages: [],
  requires: [],
  variants: { label: "version", aptPattern, name: (v) => `${type}${v}` },
  install: () => [],
  remove: () => [],
});

beforeAll(async () => {
  env = await setupTestEnv();
  // Registered before the activities first list the catalogue, as an extension would be.
  const { registerPackage } = await import("../../catalogue");
  registerPackage(variantPackage("facts_llvm", LLVM_PATTERN));
  registerPackage(variantPackage("facts_none", "^brokeforge-no-such-package(\\d+)$"));
  [peer, worker] = await Promise.all([startSshPeer(), startTestWorker()]);
  const { db } = await import("../../core/db");
  const { createCaller } = await import("../../trpc/router");
  const user = await db().user.create({ data: { email: "facts@example.com", passwordHash: "x" } });
  api = createCaller({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
});

afterAll(async () => {
  await worker?.stop();
  await peer?.stop();
  if (env) await teardownTestEnv(env);
});

/** This machine's free space on / in MB, as df rounds it (up). */
const freeMb = () => {
  const s = statfsSync("/");
  return Math.ceil((s.bavail * s.bsize) / 2 ** 20);
};

const meminfoMb = (field: string) =>
  Math.floor(Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(readFileSync("/proc/meminfo", "utf8"))![1]) / 1024);

describe("server facts", () => {
  it("a connection test records what the server is: OS, architecture, CPUs, memory, disk, swap, virtualization, apt's variants", async () => {
    const server = await api.servers.create({ name: "facts", host: "127.0.0.1", sshPort: peer.port, sshUser: "root" });
    const keys = (await api.servers.byId({ id: server.id })).publicKeys;
    peer.authorize(keys.find((k) => k.kind === "root")!.publicKey, server.id);
    await (
      await peer.server(server.id)
    ).ready;

    // Free space moves while other processes write: the probe's reading lies between these two.
    const freeBefore = freeMb();
    await api.servers.testConnection({ id: server.id });
    const done = await eventually(async () => {
      const s = await api.servers.byId({ id: server.id });
      return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
    });
    const freeAfter = freeMb();
    expect(done.connectionError).toBeNull();

    // The fake server's /etc is this machine's: Debian 12.
    const osRelease = readFileSync("/etc/os-release", "utf8");
    const field = (name: string) => new RegExp(`^${name}="?([^"\\n]*)"?$`, "m").exec(osRelease)?.[1];
    expect({ osId: done.osId, osRelease: done.osRelease, osCodename: done.osCodename }).toEqual({
      osId: field("ID"),
      osRelease: field("VERSION_ID"),
      osCodename: field("VERSION_CODENAME"),
    });
    const { supportedOs } = await import("../../domain/os");
    expect(supportedOs(done)).toEqual({ supported: true, label: "Debian 12 (bookworm)" });

    expect(done.arch).toBe(execFileSync("uname", ["-m"], { encoding: "utf8" }).trim());
    expect(done.cpuCount).toBe(os.availableParallelism());
    expect(done.memoryMb).toBe(Math.floor(os.totalmem() / 2 ** 20));
    expect(done.swapMb).toBe(meminfoMb("SwapTotal"));
    const s = statfsSync("/");
    expect(done.diskTotalMb).toBe(Math.ceil((s.blocks * s.bsize) / 2 ** 20));
    expect(done.diskFreeMb).toBeGreaterThanOrEqual(Math.min(freeBefore, freeAfter) - 256);
    expect(done.diskFreeMb).toBeLessThanOrEqual(Math.max(freeBefore, freeAfter) + 256);
    // "none" on bare metal (exit 1), "docker", "kvm"…: whatever this machine says.
    const virt = spawnSync("systemd-detect-virt", { encoding: "utf8" }).stdout.trim();
    expect(done.virtualization).toBe(virt || null);

    // Variants: every llvm-<n> this machine's apt knows, newest first.
    const local = execFileSync("apt-cache", ["pkgnames", "llvm-"], { encoding: "utf8" })
      .split("\n")
      .flatMap((n) => new RegExp(LLVM_PATTERN).exec(n)?.[1] ?? [])
      .sort((a, b) => Number(b) - Number(a));
    expect(local.length).toBeGreaterThanOrEqual(2); // several to order, or this proves little
    expect(local).toContain("16");
    // …and the catalogue's own PHP: the php<V>-fpm versions this machine's apt knows (8.2 on Debian 12).
    const php = execFileSync("apt-cache", ["pkgnames", "php"], { encoding: "utf8" })
      .split("\n")
      .flatMap((n) => /^php(\d+\.\d+)-fpm$/.exec(n)?.[1] ?? []);
    expect(php).toContain("8.2");
    const variants = { facts_llvm: local, facts_none: [], php };
    expect(done.variantOffers).toEqual(variants);

    // The kit's view of the same row: what plan builders get (core/server-facts.ts).
    const { loadServerFacts } = await import("../../core/server-facts");
    expect(await loadServerFacts(server.id)).toEqual({
      id: server.id,
      sshPort: peer.port,
      sshUser: "root",
      os: { id: "debian", release: "12", codename: "bookworm" },
      memoryMb: done.memoryMb,
      variants,
      siteUserPublicKey: keys.find((k) => k.kind === "brokeforge")!.publicKey,
    });
  });

  it("a server whose OS BrokeForge does not support is recorded as it is, and supportedOs says what it found", async () => {
    const server = await api.servers.create({ name: "old", host: "127.0.0.1", sshPort: peer.port, sshUser: "root" });
    const keys = (await api.servers.byId({ id: server.id })).publicKeys;
    peer.authorize(keys.find((k) => k.kind === "root")!.publicKey, server.id);
    (await peer.server(server.id)).write(
      "/etc/os-release",
      'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nNAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION="11 (bullseye)"\nVERSION_CODENAME=bullseye\nID=debian\n',
    );
    await api.servers.testConnection({ id: server.id });
    const done = await eventually(async () => {
      const s = await api.servers.byId({ id: server.id });
      return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
    });
    expect(done).toMatchObject({ connectionStatus: "connected", osId: "debian", osRelease: "11", osCodename: "bullseye" });
    const { supportedOs } = await import("../../domain/os");
    expect(supportedOs(done)).toEqual({
      supported: false,
      message: "This server runs Debian 11, which BrokeForge does not support. Supported: Debian 12 and 13, Ubuntu 22.04 and 24.04.",
    });
  });
});
