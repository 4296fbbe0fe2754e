// vitest globalSetup: build the Remix app once, so tests serve the real pages (build/).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function buildApp() {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "build"], { cwd: root, stdio: "pipe" });
}
