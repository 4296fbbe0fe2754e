// The command library's scripts, run for real by a local bash with stub apt-get/dpkg first
// on PATH (each stub appends its argv to a log). Nothing touches the real system: paths the
// scripts write are temp directories.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toShell } from "../../activities/ssh/shell";
import type { Step } from "../kit";
import { apt, files, systemctl } from ".";
import { APT_UPDATE_STAMP } from "./apt";
import { RESTART_FLAG_DIR } from "./files";

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
  const argv = step.argv.map((a) =>
    a === APT_UPDATE_STAMP
      ? join(root, "stamp/apt-update.stamp")
      : a.startsWith(`${RESTART_FLAG_DIR}/`)
        ? join(root, "flags", a.slice(RESTART_FLAG_DIR.length + 1))
        : a,
  );
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

describe("files.writeIfChanged + systemctl.restartIfChanged", () => {
  const flag = () => join(root, "flags", "redis-server");

  it("a new or changed file is written and flags a restart; the restart clears the flag", () => {
    stub("systemctl", "");
    const target = join(root, "redis.conf");
    const content = "requirepass x'$(id)\nbind 127.0.0.1\n";
    const first = run(files.writeIfChanged(target, content, { mode: "0640", restarts: "redis-server" }));
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`${target} written\n`);
    expect(readFileSync(target, "utf8")).toBe(content);
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(existsSync(flag())).toBe(true);
    expect(existsSync(`${target}.brokeforge-tmp`)).toBe(false);

    const restart = run(systemctl.restartIfChanged("redis-server"));
    expect(restart.status).toBe(0);
    expect(restart.stdout).toBe("redis-server restarted: its configuration changed\n");
    expect(existsSync(flag())).toBe(false);

    writeFileSync(target, "bind 0.0.0.0\n");
    expect(run(files.writeIfChanged(target, content, { mode: "0640", restarts: "redis-server" })).stdout).toBe(`${target} written\n`);
    expect(readFileSync(target, "utf8")).toBe(content);
    expect(existsSync(flag())).toBe(true);
  });

  it("the same content is not rewritten (mtime kept), only its mode fixed, and nothing restarts", () => {
    stub("systemctl", "");
    const target = join(root, "redis.conf");
    writeFileSync(target, "bind 127.0.0.1\n", { mode: 0o600 });
    utimesSync(target, 1_000_000, 1_000_000);
    const r = run(files.writeIfChanged(target, "bind 127.0.0.1\n", { mode: "0640", restarts: "redis-server" }));
    expect(r.stdout).toBe(`${target} is up to date\n`);
    expect(statSync(target).mtimeMs).toBe(1_000_000_000);
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(existsSync(flag())).toBe(false);
    const restart = run(systemctl.restartIfChanged("redis-server"));
    expect(restart.stdout).toBe("redis-server: configuration unchanged, not restarted\n");
    expect(calls()).toEqual(["systemctl start redis-server"]);
  });

  it("a failed restart keeps the flag, so the retry restarts even though the file is up to date", () => {
    stub("systemctl", 'if [ "$1" = restart ] && [ ! -e "' + root + '/ok" ]; then echo "Job failed" >&2; exit 1; fi');
    const target = join(root, "redis.conf");
    expect(run(files.writeIfChanged(target, "a\n", { restarts: "redis-server" })).status).toBe(0);
    expect(run(systemctl.restartIfChanged("redis-server")).status).toBe(1);
    expect(run(files.writeIfChanged(target, "a\n", { restarts: "redis-server" })).stdout).toContain("up to date");
    writeFileSync(join(root, "ok"), "");
    expect(run(systemctl.restartIfChanged("redis-server")).stdout).toContain("restarted");
    expect(calls()).toEqual(["systemctl restart redis-server", "systemctl restart redis-server"]);
  });
});

describe("files.ensureLine", () => {
  it("appends once (after a last line without newline), keeping the file's mode; flags only when it appended", () => {
    const target = join(root, "redis.conf");
    writeFileSync(target, "# include /etc/redis/brokeforge.conf\nport 6379", { mode: 0o640 });
    const line = "include /etc/redis/brokeforge.conf";
    expect(run(files.ensureLine(target, line, { restarts: "redis-server" })).stdout).toBe(`added to ${target}\n`);
    expect(readFileSync(target, "utf8")).toBe(`# include /etc/redis/brokeforge.conf\nport 6379\n${line}\n`);
    expect(existsSync(join(root, "flags", "redis-server"))).toBe(true);
    rmSync(join(root, "flags", "redis-server"));
    expect(run(files.ensureLine(target, line, { restarts: "redis-server" })).stdout).toBe(`${target} has the line already\n`);
    expect(readFileSync(target, "utf8")).toBe(`# include /etc/redis/brokeforge.conf\nport 6379\n${line}\n`);
    expect(statSync(target).mode & 0o777).toBe(0o640);
    expect(existsSync(join(root, "flags", "redis-server"))).toBe(false);
  });

  it("fails on a missing file", () => {
    const r = run(files.ensureLine(join(root, "nope.conf"), "x"));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("does not exist on the server");
  });
});
