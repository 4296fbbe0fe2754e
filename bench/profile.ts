// Optional (BENCH_PROFILE=1): V8 CPU profile of this process's main thread during a phase,
// summarised as self time per package / project folder. Workflow code runs in the SDK's
// worker threads and is not included; its cost shows up as "node" CPU in cpu.ts only.
import { Session } from "node:inspector/promises";

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

export async function startProfile(): Promise<() => Promise<string>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
    session.disconnect();
    return summarise(profile);
  };
}

function bucket(url: string, fn: string): string {
  if (!url)
    return fn === "(idle)" ? "(idle)" : fn === "(garbage collector)" ? "(gc)" : fn === "(program)" ? "(program/native)" : `(native) ${fn}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const proj =
    /\/work\/[^/]+\/([^/]+)\//.exec(url) ??
    /file:\/\/.*?\/(activities|app|bench|catalogue|core|domain|trpc|temporal|web|workflows|tests|scripts)\//.exec(url);
  return proj ? `project ${proj[1]}/` : url.split("/").slice(-2).join("/");
}

function summarise(p: Profile): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]!);
    if (!n) continue;
    const b = bucket(n.callFrame.url, n.callFrame.functionName);
    self.set(b, (self.get(b) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const busy = total - (self.get("(idle)") ?? 0);
  const top = [...self]
    .filter(([k]) => k !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 14);
  return (
    `main thread busy ${(busy / 1000).toFixed(1)} s of ${(total / 1000).toFixed(1)} s; self time: ` +
    top.map(([k, v]) => `${k} ${((100 * v) / busy).toFixed(0)}%`).join(", ")
  );
}
