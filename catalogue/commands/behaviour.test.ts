// The command library's scripts, run for real by a local bash with stub apt-get/dpkg first
// on PATH (each stub appends its argv to a log). Nothing touches the real system: paths the
// scripts write are temp directories.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toShell } from "../../activities/ssh/shell";
import type { Step } from "../kit";
import { apt, files } from ".";
import { APT_UPDATE_STAMP } from "./apt";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "bf-commands-"));
  mkdirSync(join(root, "bin"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function stub(name: string, body: string) {
  writeFileSync(join(root, "bin", name), `#!/bin/bash\necho "${name} $*" >> "${root}/calls"\n${body}\n`);
  chmodSync(join(root, "bin", name), 0o755);
}
const calls = () => (existsSync(join(root, "calls")) ? readFileSync(join(root, "calls"), "utf8").trim().split("\n") : []);

function run(step: Step) {
  const argv = step.argv.map((a) => (a === APT_UPDATE_STAMP ? join(root, "stamp/apt-update.stamp") : a));
  return spawnSync("bash", ["-c", toShell(argv)], {
    env: { PATH: `${join(root, "bin")}:/usr/bin:/bin`, NODE_ENV: "test" },
    encoding: "utf8",
    timeout: 20_000,
  });
}

describe("apt.update", () => {
  it("updates once, then skips while the lists are fresh; age 0 always updates", () => {
    stub("apt-get", "");
    expect(run(apt.update()).status).toBe(0);
    const second = run(apt.update());
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/Package lists are fresh \(updated \d+ s ago\)/);
    expect(calls()).toEqual(["apt-get -o DPkg::Lock::Timeout=120 update"]);
    expect(run(apt.update(0)).status).toBe(0);
    expect(calls()).toHaveLength(2);
  });

  it("a failed update leaves no stamp, so the next one tries again", () => {
    stub("apt-get", "echo 'E: mirror down' >&2; exit 100");
    const r = run(apt.update());
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("E: mirror down");
    expect(existsSync(join(root, "stamp/apt-update.stamp"))).toBe(false);
  });
});

describe("apt repair before install", () => {
  it("waits while another dpkg holds the lock, then repairs", () => {
    // Locked twice, then free.
    stub(
      "dpkg",
      `n=$(grep -c '^dpkg ' "${root}/calls"); if [ "$n" -le 2 ]; then echo "dpkg: error: dpkg frontend lock was locked by another process" >&2; exit 2; fi; echo repaired`,
    );
    const r = run(apt.repair());
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("repaired\n");
    expect(calls()).toHaveLength(3);
  });

  it("fails at once, with dpkg's words, on any other error", () => {
    stub("dpkg", "echo 'dpkg: error processing package nginx (--configure)' >&2; exit 1");
    const r = run(apt.repair());
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error processing package nginx");
    expect(calls()).toHaveLength(1);
  });
});

describe("files.write", () => {
  it("writes the exact bytes with the mode, replacing the old file, leaving no temp file", () => {
    const target = join(root, "conf", "site.conf");
    mkdirSync(join(root, "conf"));
    writeFileSync(target, "old");
    const content = `it's "quoted" $(id) \`id\` \\ %s\n😀\n`;
    expect(run(files.write(target, content, { mode: "0644" })).status).toBe(0);
    expect(readFileSync(target, "utf8")).toBe(content);
    expect(statSync(target).mode & 0o777).toBe(0o644);
    expect(existsSync(`${target}.brokeforge-tmp`)).toBe(false);
  });
});
