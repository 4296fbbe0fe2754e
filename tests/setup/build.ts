// vitest globalSetup: build the Remix app once, so tests serve the real pages (build/).
// Several test projects list this file (vitest.config.ts) and vitest runs each one's global
// setup in the same process: the first builds, the others wait for that same build.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// On globalThis: each project loads this module through its own module runner.
const BUILT = Symbol.for("brokeforge.tests.remix-build");
const shared = globalThis as typeof globalThis & { [BUILT]?: Promise<void> };

export default async function buildApp() {
  const build = (shared[BUILT] ??= remixBuild());
  try {
    await build;
  } catch (err) {
    if (shared[BUILT] === build) delete shared[BUILT]; // a later run in this process tries again
    throw err;
  }
}

async function remixBuild() {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  await promisify(execFile)(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "build"], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
  });
}
