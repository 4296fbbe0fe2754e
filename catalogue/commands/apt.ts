// apt-get, non-interactive. Every install/purge first repairs a dpkg that something else
// interrupted (a dropped connection, a killed worker, a human's Ctrl-C): otherwise every
// later apt call fails with "dpkg was interrupted, you must manually run 'dpkg --configure -a'".
import { step, type Step } from "../kit";

const APT_GET = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "DPkg::Lock::Timeout=120"];
// Keep the admin's edited config files on upgrades (never prompt, never overwrite).
const CONFOLD = ["-o", "Dpkg::Options::=--force-confold", "-o", "Dpkg::Options::=--force-confdef"];

/** Where BrokeForge records its last successful `apt-get update`. */
export const APT_UPDATE_STAMP = "/var/lib/brokeforge/apt-update.stamp";

// $1 = max age in seconds, $2 = stamp file. Skips the update when our last one is fresh, so a
// provisioning that installs ten packages downloads the lists once.
export const APT_UPDATE = [
  "age=$1; stamp=$2",
  'if [ "$age" -gt 0 ] && [ -f "$stamp" ]; then',
  '  ago=$(( $(date +%s) - $(stat -c %Y "$stamp") ))',
  '  if [ "$ago" -ge 0 ] && [ "$ago" -lt "$age" ]; then echo "Package lists are fresh (updated ${ago} s ago)"; exit 0; fi',
  "fi",
  "env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 update || exit 1",
  'mkdir -p -- "${stamp%/*}" && touch -- "$stamp"',
].join("\n");

// dpkg has no lock timeout of its own: wait (up to 120 s, like apt's DPkg::Lock::Timeout) while
// another apt/dpkg (unattended-upgrades, a human) holds the lock; any other failure is real.
export const DPKG_REPAIR = [
  "i=0",
  "while :; do",
  "  if out=$(env DEBIAN_FRONTEND=noninteractive dpkg --force-confold --force-confdef --configure -a 2>&1); then",
  '    [ -z "$out" ] || printf \'%s\\n\' "$out"; exit 0',
  "  fi",
  "  case $out in *lock*) ;; *) printf '%s\\n' \"$out\" >&2; exit 1 ;; esac",
  '  i=$((i + 1)); [ "$i" -lt 120 ] || { printf \'%s\\n\' "$out" >&2; exit 1; }',
  "  sleep 1",
  "done",
].join("\n");

function assertPackages(packages: readonly string[]): void {
  if (packages.length === 0) throw new Error("apt: no packages given");
  // Debian package names (and name=version pins): never an option, never shell text.
  for (const p of packages)
    if (!/^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+~:-]+)?$/.test(p)) throw new Error(`apt: bad package name ${JSON.stringify(p)}`);
}

/** `apt-get update`, skipped when BrokeForge's last update is younger than `maxAgeSeconds` (0: always). */
export function update(maxAgeSeconds = 3600): Step {
  if (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 0) throw new Error(`apt: bad max age ${maxAgeSeconds}`);
  return step("Updating package lists", "sh", "-c", APT_UPDATE, "sh", String(maxAgeSeconds), APT_UPDATE_STAMP);
}

export function repair(): Step {
  return step("Finishing any interrupted dpkg run", "sh", "-c", DPKG_REPAIR, "sh");
}

export function install(packages: readonly string[]): Step[] {
  assertPackages(packages);
  return [repair(), step(`Installing ${packages.join(", ")}`, ...APT_GET, ...CONFOLD, "install", "-y", ...packages)];
}

/** What Debian offers for a package on this server: installed and candidate versions. */
// A type, not an interface: it is stored as JSON (Prisma's Json input wants an index signature).
export type AptOffer = {
  installed: string | null;
  candidate: string | null;
};

/** `apt-cache policy` for the packages (read-only; no lock). */
export function policy(packages: readonly string[]): readonly string[] {
  assertPackages(packages);
  return ["apt-cache", "policy", "--", ...packages];
}

/** Parses `apt-cache policy` output; a package apt does not know is left out. */
export function parsePolicy(text: string): Record<string, AptOffer> {
  const offers: Record<string, AptOffer> = {};
  let current: AptOffer | null = null;
  for (const line of text.split("\n")) {
    const name = /^([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9]+)?:$/.exec(line);
    if (name) {
      current = { installed: null, candidate: null };
      offers[name[1]!] = current;
      continue;
    }
    const field = /^\s+(Installed|Candidate): (.+)$/.exec(line);
    if (!current || !field) continue;
    const value = field[2]!.trim() === "(none)" ? null : field[2]!.trim();
    if (field[1] === "Installed") current.installed = value;
    else current.candidate = value;
  }
  return offers;
}

export function purge(packages: readonly string[]): Step[] {
  assertPackages(packages);
  return [repair(), step(`Purging ${packages.join(", ")}`, ...APT_GET, "purge", "-y", ...packages)];
}
