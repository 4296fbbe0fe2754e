// The git server fixture (tests/fixtures/git-server.ts) from the host, with the real ssh and git
// clients: what a key may and may not do there. Its use from a Debian test server is
// tests/debian/git-server.test.ts.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phpApp, startGitServer, type GitServer } from "../fixtures/git-server";

let git: GitServer;
let dir: string;
let key: string;
let strangerKey: string;

/** A fresh ed25519 key in `dir`; returns the private key's path. */
function keygen(name: string): string {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  return path;
}

/** ssh as a user would type it, but with nothing from this machine's ssh config or known hosts. */
function sshCommand(identity: string): string {
  return `ssh -F /dev/null -i ${identity} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${join(dir, "known_hosts")}`;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], o: { identity?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_SSH_COMMAND: sshCommand(o.identity ?? key),
    };
    const child = execFile(cmd, args, { cwd: o.cwd ?? dir, env, encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
    child.stdin?.end(); // no terminal, no input: an interactive shell would read EOF
  });
}

async function ok(cmd: string, args: string[], o: { identity?: string; cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n--- sshd:\n${git.log().slice(-2000)}`);
  return r.stdout;
}

/** A new repository holding release `release` of the PHP app; returns its name and first sha. */
async function repoWithApp(release: string): Promise<{ name: string; sha: string }> {
  const name = `app-${randomBytes(3).toString("hex")}`;
  await git.createRepo(name);
  return { name, sha: await git.commit(name, phpApp(release), `release ${release}`) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bf-git-client-"));
  git = await startGitServer();
  key = keygen("authorized");
  strangerKey = keygen("stranger");
  await git.authorize(readFileSync(`${key}.pub`, "utf8"));
});

afterAll(async () => {
  await git?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the git server fixture", () => {
  it("an authorized key clones main over SSH: the fixture's commit, from the host key it announces", async () => {
    const { name, sha } = await repoWithApp("r1");
    const url = git.repoUrl(name);
    expect(url).toBe(`ssh://bf-git@127.0.0.1:${git.port}${url.slice(url.indexOf("/", "ssh://".length))}`);
    expect(git.repoUrl(name, { fromGuest: true })).toBe(url.replace("127.0.0.1", "10.0.2.2"));

    await ok("git", ["clone", "--quiet", "--depth", "1", "--branch", "main", url, name]);
    expect(readFileSync(join(dir, name, "public/index.php"), "utf8")).toContain('echo "release=r1\\n";');
    expect(readFileSync(join(dir, name, "public/health.php"), "utf8")).toContain("echo 'ok';");
    expect((await ok("git", ["rev-parse", "HEAD"], { cwd: join(dir, name) })).trim()).toBe(sha);
    const knownHosts = execFileSync("ssh-keygen", ["-lf", join(dir, "known_hosts")], { encoding: "utf8" });
    expect(knownHosts).toContain(git.hostKeyFingerprint);
  });

  it("a second commit builds on the first (changed files replaced, null deletes, the rest kept); a fetch sees it", async () => {
    const { name, sha } = await repoWithApp("r1");
    await ok("git", ["clone", "--quiet", "--branch", "main", git.repoUrl(name), name]);
    const second = await git.commit(name, { ...phpApp("r2"), "README.md": null }, "release r2");
    const work = join(dir, name);
    await ok("git", ["fetch", "--quiet", "origin", "main"], { cwd: work });
    await ok("git", ["merge", "--quiet", "--ff-only", "FETCH_HEAD"], { cwd: work });
    expect((await ok("git", ["rev-parse", "HEAD", "HEAD^"], { cwd: work })).trim().split("\n")).toEqual([second, sha]);
    expect(readFileSync(join(work, "public/index.php"), "utf8")).toContain('echo "release=r2\\n";');
    expect(existsSync(join(work, "public/health.php"))).toBe(true);
    expect(existsSync(join(work, "README.md"))).toBe(false);
  });

  it("a client's push lands, and the fixture's next commit builds on it", async () => {
    const { name, sha } = await repoWithApp("r1");
    const work = join(dir, name);
    await ok("git", ["clone", "--quiet", "--branch", "main", git.repoUrl(name), name]);
    writeFileSync(join(work, "pushed.txt"), "from a client\n");
    await ok("git", ["add", "pushed.txt"], { cwd: work });
    await ok("git", ["-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "--quiet", "-m", "pushed"], { cwd: work });
    await ok("git", ["push", "--quiet", "origin", "main"], { cwd: work });
    const pushed = (await ok("git", ["rev-parse", "HEAD"], { cwd: work })).trim();
    expect(pushed).not.toBe(sha);

    const next = await git.commit(name, phpApp("r3"), "release r3");
    await ok("git", ["pull", "--quiet", "--ff-only", "origin", "main"], { cwd: work });
    expect((await ok("git", ["rev-parse", "HEAD", "HEAD^"], { cwd: work })).trim().split("\n")).toEqual([next, pushed]);
    expect(readFileSync(join(work, "pushed.txt"), "utf8")).toBe("from a client\n");
  });

  it("rotateHostKey: the same port serves a new host key, and a client that pinned the old one is refused", async () => {
    const { name } = await repoWithApp("r1");
    const pinned = join(dir, "known_hosts_rotation");
    const before = git.hostKeyFingerprint;
    const ssh = sshCommand(key).replace(join(dir, "known_hosts"), pinned);
    const clone = (to: string) =>
      new Promise<Run>((resolve) => {
        const env = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_SSH_COMMAND: ssh };
        execFile(
          "git",
          ["clone", "--quiet", git.repoUrl(name), to],
          { cwd: dir, env, encoding: "utf8", timeout: 30_000 },
          (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
        );
      });
    expect((await clone(`${name}-a`)).code).toBe(0);
    const after = await git.rotateHostKey();
    expect(after).not.toBe(before);
    expect(git.hostKeyFingerprint).toBe(after);
    const refused = await clone(`${name}-b`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(existsSync(join(dir, `${name}-b`))).toBe(false);
    // Once the old key is forgotten, the new one is pinned and the clone works again.
    execFileSync("ssh-keygen", ["-f", pinned, "-R", `[127.0.0.1]:${git.port}`], { stdio: "ignore" });
    expect((await clone(`${name}-c`)).code).toBe(0);
    expect(execFileSync("ssh-keygen", ["-lf", pinned], { encoding: "utf8" })).toContain(after);
  });

  it("a key that was never authorized is refused", async () => {
    const { name } = await repoWithApp("r1");
    const r = await run("git", ["clone", "--quiet", git.repoUrl(name), `${name}-stranger`], { identity: strangerKey });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Permission denied (publickey)");
    expect(existsSync(join(dir, `${name}-stranger`))).toBe(false);
  });

  it("git-shell gives the authorized key no shell and no other command; root may not log in with it", async () => {
    const ssh = ["-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new"];
    const known = ["-o", `UserKnownHostsFile=${join(dir, "known_hosts")}`, "-p", String(git.port)];

    const shell = await run("ssh", [...ssh, ...known, "bf-git@127.0.0.1"]);
    expect(shell.code).toBe(128);
    expect(shell.stderr).toContain("fatal: Interactive git shell is not enabled.");

    const id = await run("ssh", [...ssh, ...known, "bf-git@127.0.0.1", "id"]);
    expect(id.code).toBe(128);
    expect(id.stderr).toContain("fatal: unrecognized command 'id'");
    expect(id.stdout).toBe("");

    const root = await run("ssh", [...ssh, ...known, "root@127.0.0.1", "id"]);
    expect(root.code).toBe(255);
    expect(root.stderr).toContain("Permission denied (publickey)");
  });
});
