// Files on the server. Content travels as an argv element (data), never as shell text, and
// is written atomically: a temp file beside the target, mode and owner set, then `mv`, so a
// reader (nginx, supervisor, cron) sees the old file or the new one, never half of one.
import { step, type Step } from "../kit";

// $1 path, $2 content, $3 mode, $4 owner ("" = root). The temp name ends in
// ".brokeforge-tmp", which no include pattern we write to (conf.d/*.conf…) matches.
export const WRITE_FILE = [
  'tmp="$1.brokeforge-tmp"',
  "umask 077",
  'printf \'%s\' "$2" > "$tmp" || exit 1',
  'chmod "$3" "$tmp" || exit 1',
  'if [ -n "$4" ]; then chown -- "$4" "$tmp" || exit 1; fi',
  'mv -f -- "$tmp" "$1"',
].join("\n");

export const REQUIRE_DIR = '[ -d "$1" ] || { echo "directory $1 does not exist on the server" >&2; exit 1; }';

export function assertPath(path: string): void {
  // Absolute, no "..", no control characters: paths are argv, but they are also shown to users.
  if (!path.startsWith("/") || path.split("/").includes("..") || /[\0-\x1f\x7f]/.test(path)) {
    throw new Error(`files: bad path ${JSON.stringify(path)}`);
  }
}

export interface WriteOptions {
  /** Octal mode, default private to the owner. */
  mode?: string;
  /** `user` or `user:group`; default root (the login user). */
  owner?: string;
  label?: string;
}

export function write(path: string, content: string, opts: WriteOptions = {}): Step {
  assertPath(path);
  const mode = opts.mode ?? "0600";
  if (!/^0?[0-7]{3}$/.test(mode)) throw new Error(`files: bad mode ${JSON.stringify(mode)}`);
  const owner = opts.owner ?? "";
  if (owner && !/^[a-z_][a-z0-9_-]*\$?(:([a-z_][a-z0-9_-]*)?)?$/.test(owner)) throw new Error(`files: bad owner ${JSON.stringify(owner)}`);
  return step(opts.label ?? `Writing ${path}`, "sh", "-c", WRITE_FILE, "sh", path, content, mode, owner);
}

export function mkdirs(paths: readonly string[], opts: { mode?: string; label?: string } = {}): Step {
  paths.forEach(assertPath);
  return step(opts.label ?? "Creating directories", "mkdir", "-p", ...(opts.mode ? ["-m", opts.mode] : []), "--", ...paths);
}

export function remove(paths: readonly string[], label = "Deleting files"): Step {
  paths.forEach(assertPath);
  return step(label, "rm", "-f", "--", ...paths);
}

/** Fails with "directory … does not exist on the server" (a precondition's check). */
export function requireDir(path: string): readonly string[] {
  assertPath(path);
  return ["sh", "-c", REQUIRE_DIR, "sh", path];
}
