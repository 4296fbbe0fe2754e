// The UI build of `npm run dev`, as its own process: Remix's classic compiler in watch mode,
// reporting each finished build to dev over IPC so dev restarts the web process on the new
// build/ (web/server.ts imports build/index.js once, at start).
//
// This is what `remix watch` runs, minus two things we don't want from it: it only watches app/,
// but the UI bundle also compiles domain/ and catalogue/ (and tailwind.config.js decides the CSS);
// and it opens a LiveReload WebSocket on a port of its own (on every interface) that app/root.tsx
// never connects to. It also empties public/build/ before every build; we keep the old assets, so
// a page loaded before a rebuild still finds its chunks. Runs apart from dev because Remix exits
// the process when esbuild dies; dev restarts this one like any other child.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "@remix-run/dev/dist/compiler/build.js";
import { watch } from "@remix-run/dev/dist/compiler/watch.js";
import { createFileWatchCache } from "@remix-run/dev/dist/compiler/fileWatchCache.js";
import { readConfig, type RemixConfig } from "@remix-run/dev/dist/config.js";
import { logger } from "@remix-run/dev/dist/tux/logger.js";
import { devWatchEnabled } from "./watch";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Outside app/ but compiled into (or shaping) the UI bundle. */
export const UI_EXTRA_SOURCES = ["domain", "catalogue", "tailwind.config.js"];

export type UiBuildMessage = { type: "building" } | { type: "built"; ok: boolean; ms: number } | { type: "ready" };

const send = (message: UiBuildMessage) => process.send?.(message);

async function config(root: string): Promise<RemixConfig> {
  const read = await readConfig(root);
  return { ...read, watchPaths: [...read.watchPaths, ...UI_EXTRA_SOURCES.map((p) => path.join(root, p))] };
}

const fileWatchCache = createFileWatchCache();
const ctx = { config: await config(ROOT), options: { mode: "development", sourcemap: true }, fileWatchCache, logger };

if (!devWatchEnabled()) {
  console.log("[ui] building (Remix; BROKEFORGE_DEV_WATCH=0: once, no rebuilds)");
  const started = Date.now();
  const ok = await build(ctx).then(
    () => true,
    (err: unknown) => {
      console.error(err);
      return false;
    },
  );
  const ms = Date.now() - started;
  console.log(ok ? `[ui] built in ${ms} ms` : "[ui] build failed (see above)");
  send({ type: "built", ok, ms });
  send({ type: "ready" });
  // Stay up as the watching build does: dev supervises this process and stops it with the rest.
  setInterval(() => undefined, 2 ** 30);
} else {
  let first = true;
  await watch(ctx, {
    // remix.config.js changed: Remix re-reads it, and must keep our extra paths.
    reloadConfig: config,
    onBuildStart() {
      console.log(first ? "[ui] building (Remix)" : "[ui] rebuilding");
      send({ type: "building" });
    },
    onBuildFinish(_ctx, ms, ok) {
      console.log(ok ? `[ui] built in ${ms} ms` : "[ui] build failed (see above); it rebuilds on the next change");
      send({ type: "built", ok, ms });
      if (first) send({ type: "ready" });
      first = false;
    },
    // As `remix watch` does: the CSS (tailwind) caches what it read, keyed by file.
    onFileChanged: (file) => fileWatchCache.invalidateFile(file),
    onFileDeleted: (file) => fileWatchCache.invalidateFile(file),
  });
}
