// Prerequisites (root, host tools) and the cached Debian trees test servers boot from:
// scripts/debian/ensure-tree.sh builds one per suite, flavor and recipe (build-tree.sh) under
// .cache/debian/<suite>-<flavor>-<recipe hash>, under an flock when several files start at once.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DebianSuite } from "./types";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const SCRIPTS = path.join(REPO, "scripts/debian");
export const CACHE_ROOT = process.env.DEBIAN_TEST_CACHE ?? path.join(REPO, ".cache/debian");

let toolsChecked: Promise<void> | undefined;
let qemuToolsChecked: Promise<void> | undefined;

/** Root + host tools (apt-installed when missing). Throws a readable message otherwise. */
export function ensureHostTools(opts: { qemu?: boolean } = {}): Promise<void> {
  const check = async () => {
    if (process.getuid?.() !== 0) {
      throw new Error(
        "tests/debian need root: they mount overlays, create network namespaces and boot systemd-nspawn containers. " +
          "Run the tests as root (plus these Debian packages: debootstrap systemd-container slirp4netns apt-cacher-ng nftables curl; qemu-system-x86 for vm.test.ts).",
      );
    }
    // Async: waiting for another test file's apt-get must not block this worker's event loop.
    const { code, out } = await runCollect("bash", [path.join(SCRIPTS, "host-deps.sh"), ...(opts.qemu ? ["qemu"] : [])]);
    if (code !== 0) throw new Error(`Installing the Debian test tools failed:\n${out}`);
    if (out.trim()) console.log(out.trim());
  };
  if (opts.qemu) return (qemuToolsChecked ??= check());
  return (toolsChecked ??= check());
}

/** Path of the cached tree of `suite`, building it (≈1 min) when the recipe changed. */
export async function ensureTree(flavor: "nspawn" | "vm" = "nspawn", suite: DebianSuite = "bookworm"): Promise<string> {
  await ensureHostTools({ qemu: flavor === "vm" });
  const started = Date.now();
  const { code, stdout, stderr } = await runCollect("bash", [path.join(SCRIPTS, "ensure-tree.sh"), CACHE_ROOT, flavor, suite]);
  if (code !== 0) throw new Error(`Building the Debian test tree failed (exit ${code}):\n${stderr.slice(-6000)}`);
  const tree = stdout.trim().split("\n").at(-1)!;
  if (!existsSync(path.join(tree, ".complete"))) throw new Error(`ensure-tree.sh returned ${tree}, which is not a complete tree`);
  if (/built in/.test(stderr)) console.log(`[debian] ${stderr.trim().split("\n").at(-1)} (${Date.now() - started} ms incl. waiting)`);
  return tree;
}

export function runCollect(cmd: string, args: string[]): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr, out: `${stderr}${stdout}` })));
}
