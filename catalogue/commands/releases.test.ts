// Sites and releases: each builder's exact command line (Kamal style), the values refused, and
// the snippets run for real by a local bash in a temp dir (runuser, nginx, curl, systemctl and
// git-over-ssh stubbed or replaced by local paths; nothing outside the temp dir is touched).
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { quote, toShell } from "../../activities/ssh/shell";
import { WRITE_FILE } from "./files";
import {
  APPEND_LOG,
  CLONE,
  COMMAND_RESULT,
  DELETE_UNLESS_LIVE,
  ENSURE_PLACEHOLDER,
  ENSURE_SHARED,
  HEALTH_CHECK,
  INSTALL_NGINX_SITE,
  LINK_SHARED,
  LOGGED,
  RUN_COMMAND,
  SEED_DEPENDENCIES,
  SHOW_TAIL,
  SWAP,
  clone,
  commandResult,
  commitMessage,
  commitSha,
  deleteReleases,
  deployCommand,
  deployLogPath,
  deployScriptLines,
  ensurePlaceholder,
  ensureShared,
  healthCheck,
  installNginxSite,
  knownHostsName,
  linkShared,
  logged,
  placeholderPage,
  reloadPhpFpm,
  removeNginxSite,
  removeSiteFiles,
  runCommand,
  seedDependencies,
  sharedKind,
  sharedLinkTarget,
  showCommandOutput,
  swap,
  writeEnv,
} from "./releases";

const sh = (step: { argv: readonly string[] }) => toShell(step.argv);
const D = "/home/brokeforge/deployments/example.com";
const R = `${D}/20261203-172859`;
const AS = "runuser -u brokeforge --";

describe("site builders", () => {
  it("makes shared files and directories, telling which is which by the last segment", () => {
    expect(sh(ensureShared("example.com", ["storage", ".env", "auth.json", "public/uploads"]))).toBe(
      `${AS} sh -c ${quote(ENSURE_SHARED)} sh ${D}/shared dir storage file .env file auth.json dir public/uploads`,
    );
    expect(["storage", ".env", "auth.json", "config/app.yml", "public/uploads", "bootstrap/cache"].map(sharedKind)).toEqual([
      "dir",
      "file",
      "file",
      "file",
      "dir",
      "dir",
    ]);
  });

  it("links the placeholder only through the snippet that keeps an existing link", () => {
    expect(sh(ensurePlaceholder("example.com", "public"))).toBe(
      `${AS} sh -c ${quote(ENSURE_PLACEHOLDER)} sh ${D}/placeholder ${D}/placeholder/public ${quote(placeholderPage("example.com"))} /home/brokeforge/example.com`,
    );
    expect(placeholderPage("example.com")).toContain("example.com is ready: deploy to put your app here");
  });

  it("writes the .env as the site user, 600, content as data", () => {
    const env = "APP_KEY='base64:x'\nDB_PASSWORD=$ecret\n";
    expect(sh(writeEnv("example.com", env))).toBe(`${AS} sh -c ${quote(WRITE_FILE)} sh ${D}/shared/.env ${quote(env)} 0600 ''`);
  });

  it("installs, removes the server block and deletes the site's files", () => {
    expect(sh(installNginxSite("example.com", "server {}\n", "/var/www/brokeforge-acme"))).toBe(
      `sh -c ${quote(INSTALL_NGINX_SITE)} sh /etc/nginx/sites-available/example.com.conf /etc/nginx/sites-enabled/example.com.conf ${quote("server {}\n")} /var/www/brokeforge-acme`,
    );
    expect(sh(removeNginxSite("example.com"))).toBe(
      "rm -f -- /etc/nginx/sites-enabled/example.com.conf /etc/nginx/sites-available/example.com.conf",
    );
    expect(sh(removeSiteFiles("example.com"))).toBe(`${AS} rm -rf -- /home/brokeforge/example.com ${D}`);
  });
});

describe("deploy builders", () => {
  it("clones the branch with the deploy key, reading the commit as named outputs", () => {
    expect(sh(clone("example.com", R, "git@github.com:acme/app.git", "release/2.0"))).toBe(
      `${AS} sh -c ${quote(CLONE)} sh ${R} /home/brokeforge/example.com git@github.com:acme/app.git release/2.0 github.com`,
    );
    expect(sh(clone("example.com", R, "ssh://git@10.0.2.2:41235/srv/app.git", "main"))).toBe(
      `${AS} sh -c ${quote(CLONE)} sh ${R} /home/brokeforge/example.com ssh://git@10.0.2.2:41235/srv/app.git main '[10.0.2.2]:41235'`,
    );
    expect(CLONE).toContain(
      "export GIT_SSH_COMMAND='ssh -i /home/brokeforge/.ssh/id_ed25519 -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes'",
    );
    const sha = commitSha("example.com", R);
    expect(sh(sha)).toBe(`${AS} git -C ${R} rev-parse HEAD`);
    expect(sha.output).toBe("commit_sha");
    const message = commitMessage("example.com", R);
    expect(sh(message)).toBe(`${AS} git -C ${R} log -1 '--format=%s'`);
    expect(message.output).toBe("commit_message");
  });

  it("names the git host as ssh's known_hosts does (the key a changed-key message tells the user to forget)", () => {
    expect(
      [
        "git@github.com:acme/app.git",
        "ssh://git@gitlab.example.com/acme/app.git",
        "ssh://git@gitlab.example.com:22/acme/app.git",
        "ssh://bf-git@10.0.2.2:2222/srv/repos/app.git",
      ].map(knownHostsName),
    ).toEqual(["github.com", "gitlab.example.com", "gitlab.example.com", "[10.0.2.2]:2222"]);
    expect(() => knownHostsName("ext::sh -c x")).toThrow(/sites: bad repository/);
  });

  it("links shared paths relatively and seeds dependencies from the live release", () => {
    expect(sh(linkShared("example.com", R, ["storage", ".env", "config/app.yml"]))).toBe(
      `${AS} sh -c ${quote(LINK_SHARED)} sh ${R} storage ../shared/storage .env ../shared/.env config/app.yml ../../shared/config/app.yml`,
    );
    expect(sharedLinkTarget("a/b/c")).toBe("../../../shared/a/b/c");
    expect(sh(seedDependencies("example.com", R))).toBe(`${AS} sh -c ${quote(SEED_DEPENDENCIES)} sh ${R} /home/brokeforge/example.com`);
  });

  it("runs one deploy command as the site user in the release, with the site's environment", () => {
    const step = deployCommand("composer install --no-dev", {
      domain: "example.com",
      release: "20261203-172859",
      releasePath: R,
      commit: "0123456789abcdef0123456789abcdef01234567",
      branch: "main",
    });
    expect(step.label).toBe("$ composer install --no-dev");
    expect(sh(step)).toBe(
      `${AS} env -C ${R} 'BROKEFORGE_SITE_PATH=/home/brokeforge/example.com' 'BROKEFORGE_RELEASE=20261203-172859' 'BROKEFORGE_RELEASE_PATH=${R}' 'BROKEFORGE_COMMIT=0123456789abcdef0123456789abcdef01234567' 'BROKEFORGE_BRANCH=main' 'HOME=/home/brokeforge' bash -c 'composer install --no-dev'`,
    );
  });

  it("splits a deploy script into commands: comments and blank lines skipped, backslash continues", () => {
    const script = [
      "# build",
      "",
      "composer install \\",
      "  --no-dev",
      "   ",
      "  # indented comment",
      "npm ci",
      "echo a\\\\",
      "echo b",
    ].join("\n");
    expect(deployScriptLines(script)).toEqual(["composer install \\\n  --no-dev", "npm ci", "echo a\\\\", "echo b"]);
    expect(deployScriptLines("")).toEqual([]);
    expect(deployScriptLines("a\r\nb\\")).toEqual(["a", "b"]);
  });

  it("swaps, reloads, checks health and deletes releases", () => {
    expect(sh(swap("example.com", R))).toBe(`${AS} sh -c ${quote(SWAP)} sh ${R} /home/brokeforge/example.com`);
    expect(swap("example.com", R).label).toBe("Making 20261203-172859 live");
    expect(sh(swap("example.com", `${D}/placeholder`))).toBe(`${AS} sh -c ${quote(SWAP)} sh ${D}/placeholder /home/brokeforge/example.com`);
    expect(sh(reloadPhpFpm("8.2"))).toBe("systemctl reload php8.2-fpm");
    expect(
      sh(
        healthCheck({
          domain: "example.com",
          path: "/up",
          previous: `${D}/20261201-090000`,
          previousName: "20261201-090000",
          phpVersion: "8.2",
        }),
      ),
    ).toBe(
      `sh -c ${quote(HEALTH_CHECK)} sh /up example.com ${D}/20261201-090000 /home/brokeforge/example.com php8.2-fpm ${quote(SWAP)} 20261201-090000`,
    );
    expect(sh(deleteReleases("example.com", [R, `${D}/logs/20261203-172859.log`, `${D}/placeholder`]))).toBe(
      `${AS} sh -c ${quote(DELETE_UNLESS_LIVE)} sh /home/brokeforge/example.com ${R} ${D}/logs/20261203-172859.log ${D}/placeholder`,
    );
    expect(deployLogPath("example.com", "20261203-172859-2")).toBe(`${D}/logs/20261203-172859-2.log`);
    expect(() => deployLogPath("example.com", "../x")).toThrow(/sites: bad release/);
  });

  it("copies a deploy step's output into the deploy's log, keyed by the step's place", () => {
    const step = logged("example.com", "20261203-172859", "activate#2", reloadPhpFpm("8.2"));
    expect(sh(step)).toBe(
      `bash -c ${quote(LOGGED)} bash ${quote(APPEND_LOG)} ${D}/logs/20261203-172859.log 'activate#2' 'Reloading php8.2-fpm' systemctl reload php8.2-fpm`,
    );
    expect(step.label).toBe("Reloading php8.2-fpm");
    expect(logged("example.com", "20261203-172859", "clone#3", { label: "x", argv: ["true"], output: "sha" }).output).toBe("sha");
    expect(() => logged("example.com", "20261203-172859", "clone 1; rm", reloadPhpFpm("8.2"))).toThrow(/sites: bad log key/);
    expect(() => logged("example.com", "../x", "clone#1", reloadPhpFpm("8.2"))).toThrow(/sites: bad release/);
  });

  it("runs a site command in the live release with its timeout, then shows and reads its result", () => {
    expect(sh(runCommand({ id: "cmd1", domain: "example.com", command: "php artisan about", timeoutSeconds: 60 }))).toBe(
      `${AS} env 'HOME=/home/brokeforge' 'BROKEFORGE_SITE_PATH=/home/brokeforge/example.com' bash -c ${quote(RUN_COMMAND)} bash /home/brokeforge/.brokeforge/commands/cmd1 /home/brokeforge/example.com 60 'php artisan about'`,
    );
    const out = showCommandOutput("cmd1", "stderr");
    expect(sh(out)).toBe(`${AS} sh -c ${quote(SHOW_TAIL)} sh /home/brokeforge/.brokeforge/commands/cmd1/stderr 4000`);
    expect(out.output).toBe("stderr");
    expect(out.quiet).toBe(true); // the run step showed it live already
    expect(sh(commandResult("cmd1", 60))).toBe(`${AS} sh -c ${quote(COMMAND_RESULT)} sh /home/brokeforge/.brokeforge/commands/cmd1 60`);
  });
});

describe("hostile values are refused before anything runs", () => {
  it.each(["a;b.com", "example.com/../etc", "-x.com", "Example.com ", "*.example.com"])("domain %j", (domain) => {
    expect(() => ensureShared(domain, ["storage"])).toThrow(/sites: bad domain/);
    expect(() => swap(domain, `/home/brokeforge/deployments/${domain}/20261203-172859`)).toThrow(/sites: bad/);
  });

  it.each(["--upload-pack=touch /tmp/x", "ext::sh -c touch% /tmp/x", "/srv/repo", "git@host:-x/y", "file:///etc"])(
    "repository %j",
    (repo) => {
      expect(() => clone("example.com", R, repo, "main")).toThrow(/sites: bad repository/);
    },
  );

  it.each(["-x", "--upload-pack=x", "a..b", "main;rm", " main", ""])("branch %j", (branch) => {
    expect(() => clone("example.com", R, "git@github.com:a/b.git", branch)).toThrow(/sites: bad branch/);
  });

  it.each(["../x", "/etc", "a/../../x", "./x", "a b", ""])("shared path %j", (path) => {
    expect(() => ensureShared("example.com", [path])).toThrow(/sites: bad shared path/);
    expect(() => linkShared("example.com", R, [path])).toThrow(/sites: bad shared path/);
  });

  it.each([
    `${D}/shared`,
    `${D}`,
    "/home/brokeforge/deployments/other.com/20261203-172859",
    `${D}/20261203-172859/..`,
    "/",
    `${D}/logs`,
    `${D}/logs/../shared.log`,
    "/home/brokeforge/deployments/other.com/logs/20261203-172859.log",
  ])("release path %j", (path) => {
    expect(() => clone("example.com", path, "git@github.com:a/b.git", "main")).toThrow(/sites: bad release path/);
    expect(() => deleteReleases("example.com", [path])).toThrow(/sites: bad release path/);
  });

  it("a web directory, a PHP version, a health check path and an id", () => {
    expect(() => ensurePlaceholder("example.com", "../public")).toThrow(/sites: bad web directory/);
    expect(() => reloadPhpFpm("8.2; reboot")).toThrow(/sites: bad PHP version/);
    expect(() => healthCheck({ domain: "example.com", path: "up", previous: R, previousName: "x", phpVersion: "8.2" })).toThrow(
      /sites: bad health check path/,
    );
    expect(() => runCommand({ id: "../x", domain: "example.com", command: "ls", timeoutSeconds: 5 })).toThrow(/sites: bad id/);
    expect(() => runCommand({ id: "c1", domain: "example.com", command: "ls", timeoutSeconds: 0 })).toThrow(/sites: bad timeout/);
  });
});

// --- the snippets, for real ------------------------------------------------------------------

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "bf-releases-"));
  mkdirSync(join(root, "bin"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function stub(name: string, body: string) {
  writeFileSync(join(root, "bin", name), `#!/bin/bash\necho "${name} $*" >> "${root}/calls"\n${body}\n`);
  chmodSync(join(root, "bin", name), 0o755);
}
const calls = () => (existsSync(join(root, "calls")) ? readFileSync(join(root, "calls"), "utf8").trim().split("\n") : []);

function run(snippet: string, ...args: string[]) {
  return spawnSync("sh", ["-c", snippet, "sh", ...args], {
    env: { PATH: `${join(root, "bin")}:/usr/bin:/bin`, HOME: root, NODE_ENV: "test" },
    encoding: "utf8",
    timeout: 30_000,
  });
}
/** As the step runs it on the server: `bash -c` (RUN_COMMAND and LOGGED use bash's job control). */
function bash(snippet: string, ...args: string[]) {
  return spawnSync("bash", ["-c", snippet, "bash", ...args], {
    env: { PATH: `${join(root, "bin")}:/usr/bin:/bin`, HOME: root, NODE_ENV: "test" },
    encoding: "utf8",
    timeout: 30_000,
  });
}
/** A process still running: a zombie is dead (this machine's PID 1 may never reap it). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};
const p = (...parts: string[]) => join(root, ...parts);
const dir = (...parts: string[]) => mkdirSync(p(...parts), { recursive: true });

describe("the atomic swap", () => {
  it("points the link at the release, again harmlessly, and never at a missing one", () => {
    dir("a");
    dir("b");
    symlinkSync(p("a"), p("live"));
    expect(run(SWAP, p("b"), p("live")).status).toBe(0);
    expect(readlinkSync(p("live"))).toBe(p("b"));
    expect(run(SWAP, p("b"), p("live")).status).toBe(0);
    expect(readlinkSync(p("live"))).toBe(p("b"));
    const missing = run(SWAP, p("gone"), p("live"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("does not exist on the server");
    expect(readlinkSync(p("live"))).toBe(p("b"));
    expect(existsSync(p("live.brokeforge-tmp"))).toBe(false);
  });
});

describe("site directories", () => {
  it("makes shared dirs and empty 600 files once, and links the placeholder only when nothing is live", () => {
    expect(run(ENSURE_SHARED, p("shared"), "dir", "storage", "file", ".env", "file", "config/app.yml").status).toBe(0);
    expect(statSync(p("shared/storage")).isDirectory()).toBe(true);
    expect(statSync(p("shared/.env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(p("shared/.env"), "utf8")).toBe("");
    writeFileSync(p("shared/.env"), "APP_KEY=x\n");
    expect(run(ENSURE_SHARED, p("shared"), "dir", "storage", "file", ".env").status).toBe(0);
    expect(readFileSync(p("shared/.env"), "utf8")).toBe("APP_KEY=x\n");

    const page = placeholderPage("example.com");
    expect(run(ENSURE_PLACEHOLDER, p("placeholder"), p("placeholder/public"), page, p("live")).status).toBe(0);
    expect(readlinkSync(p("live"))).toBe(p("placeholder"));
    expect(readFileSync(p("live/public/index.html"), "utf8")).toBe(page);
    // A deploy made something else live: a re-run leaves it.
    dir("20261203-172859");
    rmSync(p("live"));
    symlinkSync(p("20261203-172859"), p("live"));
    const again = run(ENSURE_PLACEHOLDER, p("placeholder"), p("placeholder/public"), page, p("live"));
    expect(again.stdout).toContain("exists: it stays as it is");
    expect(readlinkSync(p("live"))).toBe(p("20261203-172859"));
  });
});

describe("shared links and dependencies", () => {
  it("replaces the release's own copies by relative links into shared, twice harmlessly", () => {
    run(ENSURE_SHARED, p("site/shared"), "dir", "storage", "file", ".env", "file", "config/app.yml");
    writeFileSync(p("site/shared/.env"), "SECRET=1\n");
    dir("site/r1/storage/logs");
    dir("site/r1/config");
    writeFileSync(p("site/r1/.env"), "from git\n");
    writeFileSync(p("site/r1/config/app.yml"), "from git\n");
    const pairs = ["storage", ".env", "config/app.yml"].flatMap((x) => [x, sharedLinkTarget(x)]);
    const first = run(LINK_SHARED, p("site/r1"), ...pairs);
    expect(first.status).toBe(0);
    expect(readlinkSync(p("site/r1/storage"))).toBe("../shared/storage");
    expect(readlinkSync(p("site/r1/config/app.yml"))).toBe("../../shared/config/app.yml");
    expect(readFileSync(p("site/r1/.env"), "utf8")).toBe("SECRET=1\n");
    expect(realpathSync(p("site/r1/config/app.yml"))).toBe(realpathSync(p("site/shared/config/app.yml")));
    const second = run(LINK_SHARED, p("site/r1"), ...pairs);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe("");
  });

  it("copies vendor/ and node_modules/ from the live release into a release without them (a copy, not links)", () => {
    dir("r1/vendor/acme");
    writeFileSync(p("r1/vendor/acme/a.php"), "<?php // 1");
    dir("r2/node_modules");
    writeFileSync(p("r2/node_modules/own.js"), "own");
    dir("r1/node_modules");
    writeFileSync(p("r1/node_modules/live.js"), "live");
    symlinkSync(p("r1"), p("live"));
    const r = run(SEED_DEPENDENCIES, p("r2"), p("live"));
    expect(r.status).toBe(0);
    expect(readFileSync(p("r2/vendor/acme/a.php"), "utf8")).toBe("<?php // 1");
    expect(statSync(p("r2/vendor/acme/a.php")).ino).not.toBe(statSync(p("r1/vendor/acme/a.php")).ino);
    expect(existsSync(p("r2/node_modules/live.js"))).toBe(false); // the release's own stays
    writeFileSync(p("r2/vendor/acme/a.php"), "<?php // 2"); // composer writing in place
    expect(readFileSync(p("r1/vendor/acme/a.php"), "utf8")).toBe("<?php // 1");
    expect(existsSync(p("r2/vendor.brokeforge-tmp"))).toBe(false);
  });
});

describe("clone", () => {
  function repo() {
    const git = (...args: string[]) => spawnSync("git", args, { cwd: p("src"), encoding: "utf8", env: { ...process.env, HOME: root } });
    dir("src");
    git("init", "-q", "-b", "main");
    writeFileSync(p("src/index.php"), "<?php echo 1;");
    git("add", ".");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "First release");
    return `file://${p("src")}`;
  }

  it("clones the branch, deleting what an earlier attempt left, but never the live release", () => {
    const url = repo();
    dir("site/20261203-172859/half");
    const r = run(CLONE, p("site/20261203-172859"), p("live"), url, "main");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Deleted what an earlier attempt left");
    expect(readFileSync(p("site/20261203-172859/index.php"), "utf8")).toBe("<?php echo 1;");
    expect(existsSync(p("site/20261203-172859/half"))).toBe(false);

    symlinkSync(p("site/20261203-172859"), p("live"));
    const live = run(CLONE, p("site/20261203-172859"), p("live"), url, "main");
    expect(live.status).toBe(1);
    expect(live.stderr).toContain("is the live release: not touched");
    expect(existsSync(p("site/20261203-172859/index.php"))).toBe(true);

    const branch = run(CLONE, p("site/20261203-172860"), p("live"), url, "nope");
    expect(branch.status).not.toBe(0);
    expect(branch.stderr).toMatch(/nope/);
  });
});

describe("clone from a git host whose key changed", () => {
  // What OpenSSH prints when the key in known_hosts is not the one the host presents (abridged).
  const SSH_WARNING = [
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    "Host key for [10.0.2.2]:41235 has changed and you have requested strict checking.",
    "Host key verification failed.",
    "fatal: Could not read from remote repository.",
  ].join("\n");

  it("fails with ssh's warning, then what happened and the site command that accepts the new key", () => {
    stub("git", `printf '%s\\n' "Cloning into '$8'..." ${quote(SSH_WARNING)} >&2; exit 128`);
    const r = run(CLONE, p("site/20261203-172859"), p("live"), "ssh://bf-git@10.0.2.2:41235/srv/app.git", "main", "[10.0.2.2]:41235");
    expect(r.status).toBe(128);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      [
        `Cloning into '${p("site/20261203-172859")}'...`,
        SSH_WARNING,
        "The SSH host key of the git host [10.0.2.2]:41235 is not the one pinned at the first clone (/home/brokeforge/.ssh/known_hosts): nothing was deployed.",
        "If your git host really changed its key (check the new fingerprint with them), run this site command, then deploy again: ssh-keygen -R '[10.0.2.2]:41235'",
        "",
      ].join("\n"),
    );
  });

  it("says nothing about keys when the clone fails otherwise", () => {
    stub("git", "echo 'fatal: Remote branch nope not found in upstream origin' >&2; exit 128");
    const r = run(CLONE, p("site/20261203-172859"), p("live"), "git@github.com:acme/app.git", "nope", "github.com");
    expect(r.status).toBe(128);
    expect(r.stderr).toBe("fatal: Remote branch nope not found in upstream origin\n");
  });
});

describe("deleting releases", () => {
  it("deletes the given releases but never the one the live link resolves to", () => {
    dir("r1");
    dir("r2");
    dir("placeholder");
    symlinkSync(p("r2"), p("live"));
    const r = run(DELETE_UNLESS_LIVE, p("live"), p("r1"), p("r2"), p("placeholder"), p("never-there"));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("is live: kept");
    expect(existsSync(p("r1"))).toBe(false);
    expect(existsSync(p("placeholder"))).toBe(false);
    expect(existsSync(p("r2"))).toBe(true);
  });
});

describe("nginx server block", () => {
  const files = () => [p("sites-available/example.com.conf"), p("sites-enabled/example.com.conf"), "server { v2 }\n", p("acme")] as const;
  beforeEach(() => {
    dir("sites-available");
    dir("sites-enabled");
    stub(
      "nginx",
      `if [ -e "${root}/nginx-bad" ]; then echo 'nginx: [emerg] unknown directive "v2"' >&2; exit 1; fi; echo 'syntax is ok' >&2`,
    );
  });

  it("writes, links and tests a new block; unchanged next time", () => {
    const [a, e, content] = files();
    expect(run(INSTALL_NGINX_SITE, ...files()).status).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(content);
    expect(readlinkSync(e)).toBe(a);
    expect(statSync(a).mode & 0o777).toBe(0o644);
    expect(run(INSTALL_NGINX_SITE, ...files()).stdout).toContain("is up to date");
    expect(calls()).toEqual(["nginx -t"]);
  });

  it("puts the previous block back when nginx refuses the new one, failing with nginx's words", () => {
    const [a, e] = files();
    writeFileSync(a, "server { v1 }\n");
    symlinkSync(a, e);
    writeFileSync(p("nginx-bad"), "");
    const r = run(INSTALL_NGINX_SITE, ...files());
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown directive "v2"');
    expect(r.stderr).toContain("the previous configuration stays");
    expect(readFileSync(a, "utf8")).toBe("server { v1 }\n");
    expect(readlinkSync(e)).toBe(a);
    expect(existsSync(`${a}.brokeforge-old`)).toBe(false);
  });

  it("leaves no block at all when a first one is refused", () => {
    const [a, e] = files();
    writeFileSync(p("nginx-bad"), "");
    expect(run(INSTALL_NGINX_SITE, ...files()).status).toBe(1);
    expect(existsSync(a)).toBe(false);
    expect(() => lstatSync(e)).toThrow();
  });
});

describe("health check", () => {
  beforeEach(() => {
    stub("runuser", 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"');
    stub("systemctl", "");
    dir("old");
    dir("new");
    symlinkSync(p("new"), p("live"));
  });
  const check = () => run(HEALTH_CHECK, "/up", "example.com", p("old"), p("live"), "php8.2-fpm", SWAP, "20261201-090000");

  it("passes on a 2xx, asking 127.0.0.1 with the site's Host", () => {
    stub("curl", "printf 204");
    const r = check();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Health check /up answered 204");
    expect(calls()[0]).toContain("--header Host: example.com http://127.0.0.1:80/up");
    expect(readlinkSync(p("live"))).toBe(p("new"));
  });

  it.each([
    ["500", "printf 500"],
    ["000", "printf 000; exit 7"],
  ])("swaps straight back on %s and fails saying so", (code, body) => {
    stub("curl", body);
    const r = check();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Health check /up answered ${code}: rolled back to 20261201-090000`);
    expect(readlinkSync(p("live"))).toBe(p("old"));
    expect(calls()).toContain("systemctl reload php8.2-fpm");
  });
});

describe("site command result", () => {
  it("keeps exit code, both streams and the duration, passing the output on as it comes; the result step exits with the code", () => {
    dir("live");
    const d = p("result");
    const ran = bash(RUN_COMMAND, d, p("live"), "10", "pwd; echo oops >&2; exit 3");
    expect(ran.status).toBe(0);
    // The step's own streams carry the command's (what the live log stores), then the verdict.
    expect(ran.stdout).toBe(`${p("live")}\nThe command ended with exit code 3\n`);
    expect(ran.stderr).toBe("oops\n");
    expect(readFileSync(join(d, "rc"), "utf8")).toBe("3\n");
    expect(readFileSync(join(d, "stdout"), "utf8")).toBe(`${p("live")}\n`);
    expect(readFileSync(join(d, "ms"), "utf8").trim()).toMatch(/^\d+$/); // the duration is recorded, in whole milliseconds
    expect(run(SHOW_TAIL, join(d, "stderr"), "4000").stdout).toBe("oops\n");
    const result = run(COMMAND_RESULT, d, "10");
    expect(result.status).toBe(3);
    expect(result.stderr).toMatch(/The command exited with 3 after \d+ ms/);
    expect(existsSync(d)).toBe(false);
  });

  it("ends with the command, stopping what it left running (which would hold the output pipes open)", () => {
    dir("live");
    const ran = bash(RUN_COMMAND, p("result"), p("live"), "60", `sleep 300 & echo $! > ${p("bg.pid")}; echo started`);
    expect(ran.error).toBeUndefined(); // not killed by spawnSync's 30 s timeout: the step ended
    expect(ran.status).toBe(0);
    expect(ran.stdout).toBe("started\nThe command ended with exit code 0\n");
    expect(readFileSync(p("result/stdout"), "utf8")).toBe("started\n");
    expect(readFileSync(p("result/rc"), "utf8")).toBe("0\n");
    expect(alive(Number(readFileSync(p("bg.pid"), "utf8")))).toBe(false);
  });

  it("does not wait for a process that left the command's group and still holds the output", () => {
    dir("live");
    const ran = bash(RUN_COMMAND, p("result"), p("live"), "60", `setsid sleep 300 & echo $! > ${p("bg.pid")}; echo started`);
    try {
      expect(ran.error).toBeUndefined();
      expect(ran.status).toBe(0);
      expect(readFileSync(p("result/stdout"), "utf8")).toBe("started\n");
      expect(readFileSync(p("result/rc"), "utf8")).toBe("0\n");
    } finally {
      process.kill(Number(readFileSync(p("bg.pid"), "utf8")), "SIGKILL");
    }
  });

  it("marks a long output as truncated, keeping its end", () => {
    writeFileSync(p("out"), `${"a".repeat(5000)}THE END`);
    const r = run(SHOW_TAIL, p("out"), "4000");
    expect(r.stdout.split("\n")[0]).toBe("[truncated: the first 1007 of 5007 bytes are not shown]");
    expect(r.stdout.endsWith("THE END")).toBe(true);
    expect(r.stdout.length).toBeLessThanOrEqual(4096);
  });

  it("stops a command at its timeout", () => {
    dir("live");
    expect(bash(RUN_COMMAND, p("result"), p("live"), "1", `sleep 20 & echo $! > ${p("bg.pid")}; sleep 20`).status).toBe(0);
    expect(alive(Number(readFileSync(p("bg.pid"), "utf8")))).toBe(false); // its children too
    expect(readFileSync(p("result/rc"), "utf8")).toBe("124\n");
    const r = run(COMMAND_RESULT, p("result"), "1");
    expect(r.status).toBe(124);
    expect(r.stderr).toContain("The command timed out after 1 s");
  });
});

describe("the deploy log", () => {
  beforeEach(() => stub("runuser", 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"'));
  const log = () => p("site/logs/20261203-172859.log");
  const step = (key: string, label: string, ...argv: string[]) => bash(LOGGED, APPEND_LOG, log(), key, label, ...argv);

  it("appends each step's output under a header, passing both streams and the exit code on; a step run again says so", () => {
    const first = step("clone#1", "Cloning main", "bash", "-c", "echo out; echo err >&2; exit 3");
    expect([first.status, first.stdout, first.stderr]).toEqual([3, "out\n", "err\n"]);
    expect(statSync(log()).mode & 0o777).toBe(0o640);
    expect(statSync(p("site/logs")).mode & 0o777).toBe(0o750);
    expect(step("clone#2", "Reading the commit", "echo", "abc123").stdout).toBe("abc123\n");
    expect(step("clone#1", "Cloning main", "echo", "second run").status).toBe(0);
    const lines = readFileSync(log(), "utf8").split("\n");
    const headers = lines.filter((l) => l.startsWith("==> "));
    expect(headers.map((h) => h.replace(/^==> \[[^\]]+\] /, ""))).toEqual([
      "Cloning main (clone#1)",
      "Reading the commit (clone#2)",
      "Cloning main (clone#1) again: the output of its earlier run is above",
    ]);
    expect(headers[0]).toMatch(/^==> \[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] /);
    // Each step's lines follow its header (its two streams in either order).
    expect(lines.slice(1, 3).sort()).toEqual(["err", "out"]);
    expect(lines.slice(3)).toEqual(["==> " + headers[1]!.slice(4), "abc123", headers[2], "second run", ""]);
    expect(calls()[0]).toMatch(/^runuser -u brokeforge -- bash -c /); // the copy is the site user's
  });

  it("ends with the step, stopping what it left running", () => {
    const r = step("deploy_script#1", "$ php artisan queue:work &", "bash", "-c", `sleep 300 & echo $! > ${p("bg.pid")}; echo started`);
    expect(r.error).toBeUndefined();
    expect([r.status, r.stdout]).toEqual([0, "started\n"]);
    expect(readFileSync(log(), "utf8")).toContain("\nstarted\n");
    expect(alive(Number(readFileSync(p("bg.pid"), "utf8")))).toBe(false);
  });

  it("a log that cannot be written costs the log, never the step", () => {
    dir("site");
    writeFileSync(p("site/logs"), "a file where the logs dir should be");
    const r = step("activate#1", "Making it live", "echo", "swapped");
    expect([r.status, r.stdout]).toEqual([0, "swapped\n"]);
    expect(r.stderr).toContain("could not write the deploy log");
  });
});
