// One test server's run dir (/tmp/bf-debian-*) and everything that tears it down: stop(), the
// process exit hook, a watch for the vitest runner disappearing, and the sweep of runs whose
// owner died (SIGKILL, crash). state.json in the dir records what to kill and unmount; a process
// is killed only if its cmdline still names what we started (pids get reused).
import { execFileSync, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const RUN_PREFIX = "bf-debian-";

interface RunState {
  owner: number;
  dir: string;
  rootDir: string;
  mounted: boolean;
  machine: string;
  pids: Record<string, number>;
}

/** The helpers a run starts: the netns holder, slirp4netns, and the machine (nspawn or qemu). */
export type HelperRole = "holder" | "slirp" | "nspawn";

export interface Run {
  /** Machine name (nspawn --machine, qemu -name): in every helper's cmdline, so teardown can tell them apart. */
  machine: string;
  dir: string;
  /** The server's root: the overlay mount point (or a plain copy). */
  rootDir: string;
  consolePath: string;
  /** Everything the machine printed on its console so far. */
  consoleLog(): string;
  /** Records whether rootDir is a mount teardown must unmount. */
  setMounted(mounted: boolean): void;
  /** Records a helper: its pid in state.json (for a later sweep), the handle for stop(). */
  track(role: HelperRole, child: ChildProcess): void;
  /** True once stop() began: a machine exiting now is not rebooting. */
  stopping(): boolean;
  /** Orderly: SIGTERM to the machine (its systemd halts), then everything else; idempotent. */
  stop(): Promise<void>;
}

/** A fresh run dir owned by this process, torn down by stop() or, failing that, the exit hook / next sweep. */
export function createRun(machine: string): Run {
  installExitHook();
  const dir = execFileSync("mktemp", ["-d", path.join(os.tmpdir(), `${RUN_PREFIX}XXXXXX`)], { encoding: "utf8" }).trim();
  const rootDir = path.join(dir, "root");
  const state: RunState = { owner: process.pid, dir, rootDir, mounted: false, machine, pids: {} };
  const save = () => writeFileSync(path.join(dir, "state.json"), JSON.stringify(state));
  save();
  live.add(state);
  const children: ChildProcess[] = [];
  const consolePath = path.join(dir, "console.log");
  let stopping = false;
  return {
    machine,
    dir,
    rootDir,
    consolePath,
    consoleLog: () => (existsSync(consolePath) ? readFileSync(consolePath, "utf8") : ""),
    setMounted(mounted) {
      state.mounted = mounted;
      save();
    },
    track(role, child) {
      children.push(child);
      state.pids[role] = child.pid!;
      save();
    },
    stopping: () => stopping,
    async stop() {
      stopping = true;
      if (!live.has(state)) return;
      live.delete(state);
      const nspawn = state.pids.nspawn;
      if (nspawn && isAlive(nspawn)) {
        // SIGTERM → nspawn sends SIGRTMIN+3 to the container's systemd: an orderly halt (≈1 s).
        killOurs(nspawn, machine, "SIGTERM");
        for (let i = 0; i < 100 && isAlive(nspawn); i++) await sleep(100);
      }
      teardownSync(state);
      for (const c of children) c.kill("SIGKILL");
    },
  };
}

export function unmount(dir: string): void {
  for (let i = 0; i < 20 && isMounted(dir); i++) {
    const r = spawnSync("umount", [dir], { encoding: "utf8" });
    if (r.status === 0) break;
    if (i === 19) spawnSync("umount", ["-l", dir]);
    else execFileSync("sleep", ["0.1"]);
  }
}

let swept = false;
/** Removes test servers whose owning process died (SIGKILL, crash) without cleaning up. */
export function sweepLeftovers(): void {
  if (swept) return;
  swept = true;
  const tmp = os.tmpdir();
  for (const name of readdirSync(tmp)) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const dir = path.join(tmp, name);
    let state: RunState;
    try {
      state = JSON.parse(readFileSync(path.join(dir, "state.json"), "utf8")) as RunState;
    } catch {
      continue; // being set up right now, or not ours
    }
    if (isAlive(state.owner)) continue;
    console.log(`[debian] sweeping leftover test server ${state.machine} (${dir})`);
    teardownSync(state);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Kills `pid` only if it still is the process we started (its cmdline mentions `marker`). */
function killOurs(pid: number | undefined, marker: string, signal: NodeJS.Signals = "SIGKILL"): void {
  if (!pid) return;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (!cmdline.includes(marker)) return;
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

function isMounted(dir: string): boolean {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[1] === dir);
}

/** Synchronous teardown of one run dir (used by stop(), the exit hook and the sweep). */
function teardownSync(state: RunState): void {
  // nspawn first (its container dies with it: nspawn gives the container's init PDEATHSIG=KILL).
  killOurs(state.pids.nspawn, state.machine);
  killOurs(state.pids.slirp, "slirp4netns");
  killOurs(state.pids.holder, "sleep");
  if (state.mounted) unmount(state.rootDir);
  try {
    rmSync(`/run/systemd/nspawn/propagate/${state.machine}`, { recursive: true, force: true });
  } catch {
    // not there
  }
  if (!isMounted(state.rootDir)) rmSync(state.dir, { recursive: true, force: true });
}

const live = new Set<RunState>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const teardownAll = () => {
    for (const s of live) teardownSync(s);
    live.clear();
  };
  // afterAll normally stops servers; this covers a worker exiting without it.
  process.on("exit", teardownAll);
  // A vitest fork whose runner died (e.g. SIGINT to the runner alone) is orphaned and may
  // never exit: take our servers down as soon as the parent is gone.
  const parent = process.ppid;
  process.once("disconnect", teardownAll);
  setInterval(() => {
    if (process.ppid !== parent && live.size > 0) {
      console.warn("[debian] test runner is gone: stopping this process's Debian test servers");
      teardownAll();
    }
  }, 1_000).unref();
}
