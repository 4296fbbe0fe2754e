// A Debian 12 test server clones from the host's git server fixture (tests/fixtures/git-server.ts)
// the way a deployment will: git over SSH to ssh://bf-git@10.0.2.2:<port>/…, with a key made on
// the server and authorized on the git server, through the harness's fence opened for that one
// port (server.allowHostPort). git is in the base tree.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { phpApp, startGitServer, type GitServer } from "../fixtures/git-server";
import { APT_PROXY_CONF, bootDebian, type DebianServer } from "./harness";

let server: DebianServer;
let git: GitServer;
let firstSha: string;
const timings: Record<string, number> = {};

const KNOWN_HOSTS = "/root/.ssh/known_hosts_git";
/** The git command a deploy script runs, with `identity` as its key and its own known_hosts. */
const gitWith = (identity: string) =>
  `GIT_SSH_COMMAND='ssh -i ${identity} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${KNOWN_HOSTS}' git`;

beforeAll(async () => {
  [server, git] = await Promise.all([bootDebian({ label: "git-server" }), startGitServer()]);
  timings.boot = server.bootMs;
  await git.createRepo("app");
  firstSha = await git.commit("app", phpApp("20261203-120000"), "first release");
}, 5 * 60_000);

afterAll(async () => {
  console.log(`[debian git-server] timings (ms): ${JSON.stringify(timings)}`);
  await Promise.all([server?.stop(), git?.stop()]);
});

describe("a Debian server and the host's git server", () => {
  it("a key made on the server and authorized on the git server clones main at 10.0.2.2, pinned to the git server's host key", async () => {
    await server.sh("ssh-keygen -q -t ed25519 -N '' -C deploy -f /root/.ssh/deploy_key");
    await git.authorize(await server.sh("cat /root/.ssh/deploy_key.pub"));
    const url = git.repoUrl("app", { fromGuest: true });
    expect(url).toMatch(/^ssh:\/\/bf-git@10\.0\.2\.2:\d+\/.+\/app\.git$/);
    // The harness's fence: the host's loopback is closed to the server but for the ports opened.
    const fenced = await server.exec(`${gitWith("/root/.ssh/deploy_key")} ls-remote '${url}'`);
    expect(fenced.exitCode).not.toBe(0);
    expect(fenced.stderr).toContain("Connection refused");
    await server.allowHostPort(git.port);

    const t = Date.now();
    await server.sh(`${gitWith("/root/.ssh/deploy_key")} clone --quiet --depth 1 --branch main '${url}' /srv/app`);
    timings.clone = Date.now() - t;
    expect(await server.sh("cat /srv/app/public/index.php")).toContain('echo "release=20261203-120000\\n";');
    expect((await server.sh("git -C /srv/app rev-parse HEAD")).trim()).toBe(firstSha);
    expect(await server.sh(`ssh-keygen -lf ${KNOWN_HOSTS}`)).toContain(git.hostKeyFingerprint);
  });

  it("a second commit reaches the server through a fetch (the git port stays open while Debian's mirror is blocked) and a new clone", async () => {
    const second = await git.commit("app", phpApp("20261203-130000"), "second release");
    const url = git.repoUrl("app", { fromGuest: true });
    const git_ = gitWith("/root/.ssh/deploy_key");
    const aptCachePort = /http:\/\/10\.0\.2\.2:(\d+)\//.exec(await server.sh(`cat ${APT_PROXY_CONF}`))![1];
    await server.blockMirror();
    try {
      expect((await server.exec(`timeout 5 bash -c '</dev/tcp/10.0.2.2/${aptCachePort}'`)).exitCode).toBe(1);
      await server.sh(`${git_} -C /srv/app fetch --quiet --depth 1 origin main && git -C /srv/app reset --quiet --hard FETCH_HEAD`);
    } finally {
      await server.unblockMirror();
    }
    expect((await server.exec(`timeout 5 bash -c '</dev/tcp/10.0.2.2/${aptCachePort}'`)).exitCode).toBe(0);
    expect((await server.sh("git -C /srv/app rev-parse HEAD")).trim()).toBe(second);
    expect(await server.sh("cat /srv/app/public/index.php")).toContain('echo "release=20261203-130000\\n";');

    await server.sh(`${git_} clone --quiet --depth 1 --branch main '${url}' /srv/app-2`);
    expect((await server.sh("git -C /srv/app-2 rev-parse HEAD")).trim()).toBe(second);
  });

  it("a key the git server never authorized is refused, and clones nothing", async () => {
    await server.sh("ssh-keygen -q -t ed25519 -N '' -C stranger -f /root/.ssh/stranger_key");
    const r = await server.exec(
      `${gitWith("/root/.ssh/stranger_key")} clone --quiet '${git.repoUrl("app", { fromGuest: true })}' /srv/stranger`,
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain("Permission denied (publickey)");
    expect((await server.exec("test -e /srv/stranger")).exitCode).toBe(1);
  });
});
