// CPU time per component (this Node process = web + worker + peer; Temporal dev server; Postgres),
// from /proc, to tell which one a phase was waiting on. Linux only; elsewhere reports nothing.
import fs from "node:fs";
import os from "node:os";

const TICK_MS = 10; // CLK_TCK = 100 on Linux

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function read(pid: number): Proc | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime stime cutime cstime (cutime/cstime: reaped children, e.g. exited postgres backends)
    const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return { pid, ppid: Number(f[1]), comm, ticks };
  } catch {
    return null;
  }
}

export type CpuSnapshot = { at: number; byGroup: Map<string, number>; machineBusyMs: number; machineTotalMs: number };

function group(p: Proc, self: number): string {
  if (p.pid === self) return "node (web+worker+peer)";
  if (p.comm.startsWith("temporal")) return "temporal dev server";
  if (p.comm.startsWith("postgres")) return "postgres";
  return "other children";
}

export function cpuSnapshot(): CpuSnapshot {
  const self = process.pid;
  const procs = new Map<number, Proc>();
  let pids: number[] = [];
  try {
    pids = fs
      .readdirSync("/proc")
      .filter((n) => /^\d+$/.test(n))
      .map(Number);
  } catch {
    // no /proc
  }
  for (const pid of pids) {
    const p = read(pid);
    if (p) procs.set(pid, p);
  }
  // Descendants of this process, each attributed to its top-level child's group
  // (postgres backends under the postmaster; setpriv execs into temporal).
  const byGroup = new Map<string, number>();
  const top = (p: Proc): Proc | null => {
    let cur: Proc | undefined = p;
    for (let hops = 0; cur && hops < 50; hops++) {
      if (cur.pid === self) return cur;
      if (cur.ppid === self) return cur;
      cur = procs.get(cur.ppid);
    }
    return null;
  };
  for (const p of procs.values()) {
    const t = top(p);
    if (!t) continue;
    const g = group(t, self);
    byGroup.set(g, (byGroup.get(g) ?? 0) + p.ticks * TICK_MS);
  }
  let machineBusyMs = 0;
  let machineTotalMs = 0;
  try {
    const cpu = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = cpu[3]! + cpu[4]!;
    machineTotalMs = cpu.slice(0, 8).reduce((a, b) => a + b, 0) * TICK_MS;
    machineBusyMs = machineTotalMs - idle * TICK_MS;
  } catch {
    // no /proc/stat
  }
  return { at: Date.now(), byGroup, machineBusyMs, machineTotalMs };
}

/** "node 12.3 s (1.2 cores), temporal …" over the interval; plus the whole machine's busy share. */
export function cpuReport(a: CpuSnapshot, b: CpuSnapshot): { text: string; cores: Record<string, number>; ms: Record<string, number> } {
  const wall = Math.max(1, b.at - a.at);
  const cores: Record<string, number> = {};
  const msBy: Record<string, number> = {};
  const parts: string[] = [];
  let ours = 0;
  for (const [g, ms] of b.byGroup) {
    const d = ms - (a.byGroup.get(g) ?? 0);
    if (d <= 0) continue;
    ours += d;
    msBy[g] = d;
    cores[g] = Number((d / wall).toFixed(2));
    parts.push(`${g} ${(d / 1000).toFixed(1)} s (${(d / wall).toFixed(2)} cores)`);
  }
  const busy = b.machineBusyMs - a.machineBusyMs;
  const total = b.machineTotalMs - a.machineTotalMs;
  const others = Math.max(0, busy - ours);
  if (total > 0) {
    parts.push(
      `rest of the machine ${(others / 1000).toFixed(1)} s (${(others / wall).toFixed(2)} cores); machine busy ${((100 * busy) / total).toFixed(0)}%`,
    );
    cores.others = Number((others / wall).toFixed(2));
  }
  return { text: parts.join("; "), cores, ms: msBy };
}

/** "node 38 ms + temporal 41 ms + … = 87 ms of CPU per op → at most 23/s on N idle cores". */
export function perUnit(
  ms: Record<string, number>,
  units: number,
  unit: string,
  plural = `${unit}s`,
): { text: string; totalMs: number; maxPerSec: number } {
  const entries = Object.entries(ms).filter(([, v]) => v / units >= 0.05);
  const totalMs = entries.reduce((a, [, v]) => a + v, 0) / units;
  const cores = os.cpus().length;
  const maxPerSec = totalMs > 0 ? (1000 * cores) / totalMs : NaN;
  const text =
    `${entries.map(([k, v]) => `${k.split(" ")[0]} ${(v / units).toFixed(1)} ms`).join(" + ")} = ${totalMs.toFixed(1)} ms of CPU per ${unit}` +
    ` → at most ~${maxPerSec.toFixed(0)} ${plural}/s if this run had all ${cores} cores to itself`;
  return { text, totalMs, maxPerSec };
}
