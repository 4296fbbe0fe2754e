// What the connection test reads from a server, as one command over one channel, and how its
// output becomes facts. Pure (no SSH, no database): connection.ts runs it, unit tests feed
// `parseProbeOutput` text a server would print.
//
// The command is sections, each opened by a marker line the parser splits on. Every section
// tolerates its tool being absent or failing (2>/dev/null): a fact the server cannot tell is
// null, never a failed connection test.
import { apt } from "../catalogue/commands";
import { toShell } from "./ssh/shell";

/** A catalogue package with `variants`: its type and the pattern over apt's package names. */
export interface VariantSource {
  type: string;
  aptPattern: string;
}

export interface ProbeFacts {
  osName: string | null;
  osVersion: string | null;
  kernel: string | null;
  /** os-release ID / VERSION_ID / VERSION_CODENAME: "debian", "12", "bookworm". */
  osId: string | null;
  osRelease: string | null;
  osCodename: string | null;
  /** `uname -m`: "x86_64", "aarch64". */
  arch: string | null;
  cpuCount: number | null;
  memoryMb: number | null;
  diskTotalMb: number | null;
  diskFreeMb: number | null;
  /** 0 when the server has no swap. */
  swapMb: number | null;
  /** systemd-detect-virt: "none" on bare metal, "kvm", "systemd-nspawn", "docker"… */
  virtualization: string | null;
  packageOffers: Record<string, apt.AptOffer>;
  /** Per package type, the variants apt offers, newest first: { php: ["8.4", "8.2"] }. */
  variantOffers: Record<string, string[]>;
}

/**
 * What one variant listing may print. With a prefix (the usual case) apt-cache prints a few
 * hundred names; without one it would print every name apt knows (~1 MB on Debian 12).
 */
export const VARIANT_LIST_MAX_BYTES = 64 * 1024;

/** The exec's own output limit: the fixed sections are a few KB, apt policy a few more. */
export function probeMaxOutputBytes(variants: readonly VariantSource[]): number {
  return 256 * 1024 + variants.length * VARIANT_LIST_MAX_BYTES;
}

const marker = (name: string) => `---brokeforge-${name}---`;
const MARKER_LINE = /^---brokeforge-([a-z0-9-]+)---$/;

export function probeCommand(aptPackages: readonly string[], variants: readonly VariantSource[]): string {
  const sections: [string, string][] = [
    ["os-release", "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null"],
    ["kernel", "uname -r"],
    ["arch", "uname -m"],
    ["cpus", "nproc 2>/dev/null"],
    ["meminfo", "grep -E '^(MemTotal|SwapTotal):' /proc/meminfo 2>/dev/null"],
    ["disk", "df -Pm / 2>/dev/null"],
    // Prints "none" and exits 1 on bare metal; absent without systemd. Either way: go on.
    ["virt", "systemd-detect-virt 2>/dev/null"],
    // apt-cache is read-only; a server without it just offers nothing.
    ["apt", aptPackages.length ? `${toShell(apt.policy(aptPackages))} 2>/dev/null` : "true"],
    // Names only, filtered by each pattern here in Node (never a user's regex in shell text);
    // the literal prefix of the pattern keeps the list short, head bounds it regardless.
    ...variants.map((v, i): [string, string] => {
      const prefix = aptPrefix(v.aptPattern);
      return [
        `variants-${i}`,
        `${toShell(["apt-cache", "pkgnames", ...(prefix ? [prefix] : [])])} 2>/dev/null | head -c ${VARIANT_LIST_MAX_BYTES}`,
      ];
    }),
  ];
  return `${sections.map(([name, command]) => `echo ${marker(name)}; ${command}`).join("; ")}; true`;
}

export function parseProbeOutput(stdout: string, variants: readonly VariantSource[]): ProbeFacts {
  const sections = splitSections(stdout);
  const os = parseOsRelease(sections.get("os-release") ?? "");
  const meminfo = parseMeminfo(sections.get("meminfo") ?? "");
  const disk = parseDf(sections.get("disk") ?? "");
  const variantOffers: Record<string, string[]> = {};
  variants.forEach((v, i) => {
    variantOffers[v.type] = variantsFromNames(sections.get(`variants-${i}`) ?? "", v.aptPattern);
  });
  return {
    osName: os.NAME ?? null,
    osVersion: os.VERSION ?? os.VERSION_ID ?? null,
    kernel: word(sections.get("kernel")),
    osId: os.ID || null,
    osRelease: os.VERSION_ID || null,
    osCodename: os.VERSION_CODENAME || null,
    arch: word(sections.get("arch")),
    cpuCount: int(sections.get("cpus")),
    memoryMb: kbToMb(meminfo.MemTotal),
    swapMb: kbToMb(meminfo.SwapTotal),
    diskTotalMb: disk?.totalMb ?? null,
    diskFreeMb: disk?.freeMb ?? null,
    virtualization: word(sections.get("virt")),
    packageOffers: apt.parsePolicy(sections.get("apt") ?? ""),
    variantOffers,
  };
}

function splitSections(stdout: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | null = null;
  let lines: string[] = [];
  const close = () => {
    if (current !== null) sections.set(current, lines.join("\n"));
  };
  for (const line of stdout.split("\n")) {
    const m = MARKER_LINE.exec(line);
    if (m) {
      close();
      current = m[1]!;
      lines = [];
    } else lines.push(line);
  }
  close();
  return sections;
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (m) out[m[1]!] = m[2]!.replace(/^["']|["']$/g, "");
  }
  return out;
}

/** The section's one word ("x86_64"), or null when the tool printed nothing. */
function word(text: string | undefined): string | null {
  const w = text?.trim().split(/\s+/)[0];
  return w || null;
}

function int(text: string | undefined): number | null {
  const t = text?.trim() ?? "";
  return /^\d+$/.test(t) ? Number(t) : null;
}

function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^(\w+):\s+(\d+) kB$/);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

const kbToMb = (kb: number | undefined) => (kb === undefined ? null : Math.floor(kb / 1024));

/** `df -Pm /`: a header, then "<filesystem> <1M-blocks> <used> <available> <capacity> <mount>". */
function parseDf(text: string): { totalMb: number; freeMb: number } | null {
  const row = text
    .split("\n")
    .slice(1)
    .find((l) => l.trim());
  // Counted from the end: a filesystem's name may contain spaces, the mount point here is "/".
  const f = row?.trim().split(/\s+/);
  if (!f || f.length < 6) return null;
  const total = int(f[f.length - 5]);
  const free = int(f[f.length - 3]);
  return total === null || free === null ? null : { totalMb: total, freeMb: free };
}

/**
 * The literal start of an anchored pattern, as a Debian package name prefix for
 * `apt-cache pkgnames` ("^php(\\d+\\.\\d+)-fpm$" → "php"); "" when there is none to rely on
 * (unanchored, alternatives), and then every name is listed (bounded) and filtered here.
 */
export function aptPrefix(pattern: string): string {
  if (!pattern.startsWith("^") || pattern.includes("|")) return "";
  let prefix = "";
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i]!;
    let literal: string | null = null;
    let width = 1;
    if (/[a-z0-9-]/.test(c)) literal = c;
    else if (c === "\\" && /[.+-]/.test(pattern[i + 1] ?? "")) {
      literal = pattern[i + 1]!;
      width = 2;
    }
    if (literal === null) break;
    // A quantified character ("x?", "x*", "x{0,1}") may be absent: it is not part of the prefix.
    if (/[?*+{]/.test(pattern[i + width] ?? "")) break;
    prefix += literal;
    i += width - 1;
  }
  return prefix;
}

/**
 * The variants in a list of package names: the pattern's capture group of every name it
 * matches, without repeats, newest first. A pattern that does not compile offers nothing
 * (a catalogue slip must not fail every connection test; the package's own tests catch it).
 */
export function variantsFromNames(names: string, pattern: string): string[] {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return [];
  }
  const lines = names.split("\n");
  // A list cut at its limit may end in half a name ("llvm-1" of "llvm-16"): leave it out.
  if (Buffer.byteLength(names) >= VARIANT_LIST_MAX_BYTES) lines.pop();
  const found = new Set<string>();
  for (const line of lines) {
    const v = re.exec(line.trim())?.[1];
    if (v) found.add(v);
  }
  return [...found].sort(newerFirst);
}

/** "8.10" after "8.9": numbers compared as numbers, part by part. */
export function newerFirst(a: string, b: string): number {
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? -1) - (pa[i] ?? -1);
    if (d) return d;
  }
  return b < a ? -1 : b > a ? 1 : 0;
}
