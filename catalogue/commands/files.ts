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

/**
 * Where a config writer leaves "this unit must restart" (one empty file per unit), for
 * `systemctl.restartIfChanged`. A file, not a variable between steps: if the restart fails,
 * the flag stays and a retry (which finds the config already written) still restarts.
 */
export const RESTART_FLAG_DIR = "/var/lib/brokeforge/restart-pending";

export function restartFlag(unit: string): string {
  // A systemd unit name, as systemctl.ts checks it: one path component, never an option.
  if (!/^[A-Za-z0-9@_.:-]+$/.test(unit) || unit.startsWith("-") || unit.startsWith(".")) {
    throw new Error(`files: bad unit ${JSON.stringify(unit)}`);
  }
  return `${RESTART_FLAG_DIR}/${unit}`;
}

// $1 path, $2 content, $3 mode, $4 owner ("" = leave), $5 restart flag ("" = none). Same
// content: only mode/owner are asserted (content and mtime untouched, nothing flagged). Else
// written like WRITE_FILE (temp + mv) and the flag is set.
export const WRITE_FILE_IF_CHANGED = [
  'if [ -f "$1" ] && printf \'%s\' "$2" | cmp -s - "$1"; then',
  '  chmod "$3" "$1" || exit 1',
  '  if [ -n "$4" ]; then chown -- "$4" "$1" || exit 1; fi',
  '  echo "$1 is up to date"; exit 0',
  "fi",
  'tmp="$1.brokeforge-tmp"',
  "umask 077",
  'printf \'%s\' "$2" > "$tmp" || exit 1',
  'chmod "$3" "$tmp" || exit 1',
  'if [ -n "$4" ]; then chown -- "$4" "$tmp" || exit 1; fi',
  'if [ -n "$5" ]; then mkdir -p -- "${5%/*}" && : > "$5" || exit 1; fi',
  'mv -f -- "$tmp" "$1" || exit 1',
  'echo "$1 written"',
].join("\n");

// $1 file, $2 line, $3 restart flag ("" = none). Appends the line unless the file has it
// already (whole-line match); the file keeps its owner and mode (an append, not a rewrite).
export const ENSURE_LINE = [
  '[ -f "$1" ] || { echo "$1 does not exist on the server" >&2; exit 1; }',
  'if grep -qxF -- "$2" "$1"; then echo "$1 has the line already"; exit 0; fi',
  'if [ -n "$3" ]; then mkdir -p -- "${3%/*}" && : > "$3" || exit 1; fi',
  // A last line without its newline would otherwise swallow ours.
  'if [ -s "$1" ] && [ -n "$(tail -c 1 -- "$1")" ]; then printf \'\\n\' >> "$1" || exit 1; fi',
  'printf \'%s\\n\' "$2" >> "$1" || exit 1',
  'echo "added to $1"',
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
  const { mode, owner } = writeArgs(path, opts);
  return step(opts.label ?? `Writing ${path}`, "sh", "-c", WRITE_FILE, "sh", path, content, mode, owner);
}

function writeArgs(path: string, opts: WriteOptions): { mode: string; owner: string } {
  assertPath(path);
  const mode = opts.mode ?? "0600";
  if (!/^0?[0-7]{3}$/.test(mode)) throw new Error(`files: bad mode ${JSON.stringify(mode)}`);
  const owner = opts.owner ?? "";
  if (owner && !/^[a-z_][a-z0-9_-]*\$?(:([a-z_][a-z0-9_-]*)?)?$/.test(owner)) throw new Error(`files: bad owner ${JSON.stringify(owner)}`);
  return { mode, owner };
}

/**
 * Like `write`, but a file that already has this content is left alone (a re-run changes
 * nothing, not even the mtime). With `restarts`, a change flags that unit for
 * `systemctl.restartIfChanged` later in the plan.
 */
export function writeIfChanged(path: string, content: string, opts: WriteOptions & { restarts?: string } = {}): Step {
  const { mode, owner } = writeArgs(path, opts);
  const flag = opts.restarts === undefined ? "" : restartFlag(opts.restarts);
  return step(opts.label ?? `Writing ${path}`, "sh", "-c", WRITE_FILE_IF_CHANGED, "sh", path, content, mode, owner, flag);
}

/** Appends `line` to an existing file unless it is there; with `restarts`, an append flags the unit. */
export function ensureLine(path: string, line: string, opts: { restarts?: string; label?: string } = {}): Step {
  assertPath(path);
  if (line === "" || /[\r\n\0]/.test(line)) throw new Error(`files: bad line ${JSON.stringify(line)}`);
  const flag = opts.restarts === undefined ? "" : restartFlag(opts.restarts);
  return step(opts.label ?? `Adding a line to ${path}`, "sh", "-c", ENSURE_LINE, "sh", path, line, flag);
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
