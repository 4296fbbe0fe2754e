// Source watching for `npm run dev`: which files under the server folders changed, in batches.
//
// One inotify watch per directory (fs.watch, not recursive), rather than node 20's
// `fs.watch(dir, { recursive: true })`: on Linux node 20 emulates `recursive` with one watch per
// *file*, which loses a file that an editor saves by writing a new file and renaming it over the
// old one (vim, JetBrains "safe write"): the watch stays on the replaced inode. A directory watch
// sees every such rename, and new subdirectories are picked up as they appear.
import fs from "node:fs";
import path from "node:path";

/** BROKEFORGE_DEV_WATCH=0 turns rebuilds and restarts on code changes off (the UI is built once). */
export function devWatchEnabled(): boolean {
  return process.env.BROKEFORGE_DEV_WATCH !== "0";
}

export interface SourceWatcher {
  close(): void;
}

export interface WatchOptions {
  /** A batch is reported once this long has passed without another change (saves come in bursts). */
  quietMs?: number;
  /** Paths (relative to root) that are never a reason to restart. */
  ignore?: (relative: string) => boolean;
}

/**
 * Watches `entries` — directories or files directly under `root`, which may not exist yet (a new
 * top-level folder is picked up when it is created) — and calls `onChange` with the changed paths,
 * relative to root, after a quiet period.
 */
export function watchSources(
  root: string,
  entries: string[],
  onChange: (changed: string[]) => void,
  opts: WatchOptions = {},
): SourceWatcher {
  const { quietMs = 300, ignore = isNoise } = opts;
  root = path.resolve(root);
  const wanted = new Set(entries);
  const watchers = new Map<string, fs.FSWatcher>();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const record = (abs: string) => {
    const rel = path.relative(root, abs);
    if (ignore(rel)) return;
    pending.add(rel);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const batch = [...pending].sort();
      pending.clear();
      if (!closed && batch.length) onChange(batch);
    }, quietMs);
  };

  const unwatch = (dir: string) => {
    for (const [d, w] of watchers) {
      if (d === dir || d.startsWith(dir + path.sep)) {
        w.close();
        watchers.delete(d);
      }
    }
  };

  const watchDir = (dir: string) => {
    if (closed || watchers.has(dir) || ignore(path.relative(root, dir))) return;
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, { persistent: false }, (_event, name) => onEvent(dir, name ? String(name) : undefined));
    } catch {
      return; // gone (or never was) between the event and now
    }
    watcher.on("error", () => unwatch(dir)); // the directory was removed
    watchers.set(dir, watcher);
    let children: fs.Dirent[];
    try {
      children = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const child of children) if (child.isDirectory()) watchDir(path.join(dir, child.name));
  };

  const onEvent = (dir: string, name: string | undefined) => {
    if (closed) return;
    if (name === undefined) {
      // The kernel dropped events (queue overflow): rescan, and treat the folder as changed.
      record(dir);
      watchDir(dir);
      return;
    }
    const abs = path.join(dir, name);
    if (dir === root && !wanted.has(name)) return;
    const stat = fs.statSync(abs, { throwIfNoEntry: false });
    if (stat?.isDirectory()) {
      if (!watchers.has(abs)) {
        watchDir(abs);
        record(abs); // moved in with files, or about to get some
      }
      return;
    }
    if (!stat && watchers.has(abs)) unwatch(abs); // a watched directory was deleted or moved away
    record(abs);
  };

  // The root itself only to see wanted entries appear (a new catalogue/) and root files change.
  try {
    watchers.set(
      root,
      fs.watch(root, { persistent: false }, (_event, name) => onEvent(root, name ? String(name) : undefined)),
    );
  } catch (err) {
    throw new Error(`Cannot watch ${root} for code changes: ${(err as Error).message}`, { cause: err });
  }
  for (const entry of entries) {
    const abs = path.join(root, entry);
    if (fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) watchDir(abs);
  }

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/**
 * Files whose change never needs a restart: tests next to the code, docs, editor swap and backup
 * files (vim's `.x.swp`, `x~`, and its `4913` write probe), dotfiles and node_modules.
 */
export function isNoise(relative: string): boolean {
  const parts = relative.split(path.sep);
  if (parts.some((p) => p === "node_modules" || (p.startsWith(".") && p.length > 1))) return true;
  const base = parts[parts.length - 1] ?? "";
  return /~$|\.sw[a-p]x?$|^\d+$|\.(test|spec)\.[cm]?[jt]sx?$|\.md$|\.log$/.test(base);
}
