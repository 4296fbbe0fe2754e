// Sites and zero-downtime deploys on a real Debian 12 server, from a real git server.
//
// One container, provisioned by BrokeForge as a web server (nginx, PHP-FPM, Composer, Node),
// then every case of issue 12 in order, each building on the one before as a user's day would:
// create the site (its repository on tests/fixtures/git-server.ts, reached from the container
// at 10.0.2.2), first deploy, .env, a second release under a request loop, rollback under the
// same loop, a deploy whose script fails, a health check that fails and swaps back, and twenty
// deploys that leave exactly the releases retention keeps.
//
// Requests go from the host through nginx (port 80 forwarded), with the site's Host header, so
// what is checked is what a visitor would get.
import http from "node:http";
import { hash } from "@node-rs/argon2";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEEP_RELEASES } from "../../domain/sites";
import { startGitServer, phpApp, type GitServer } from "../fixtures/git-server";
import { startTestWeb } from "../setup/app";
import { launchChromium } from "../setup/browser";
import { startEngine, eventually, type Engine } from "../setup/engine";
import { addToBrokeForge, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";
import { HOST_FROM_GUEST } from "./harness/apt-cache";

const PROVISION_TIMEOUT_MS = 900_000;
const DEPLOY_TIMEOUT_MS = 180_000;
const DOMAIN = "app.brokeforge.test";

let e: Engine;
let server: DebianServer;
let git: GitServer;
let serverId: string;
let siteId: string;
let httpPort: number;
const timings: Record<string, number> = {};

beforeAll(async () => {
  [e, server, git] = await Promise.all([startEngine(), bootDebian({ label: "sites" }), startGitServer()]);
  await server.allowHostPort(git.port);
  await git.createRepo("app");
  await git.commit("app", phpApp("1"), "Release 1");
  httpPort = await server.forward(80);
  const t0 = Date.now();
  serverId = (await addToBrokeForge(e, server, { provisioning: { role: "web" } })).id;
  await until(() => e.db.provisioning.findUnique({ where: { serverId } }), "active", PROVISION_TIMEOUT_MS);
  timings.provisionWeb = Date.now() - t0;
}, PROVISION_TIMEOUT_MS + 120_000);

afterAll(async () => {
  console.log(`[debian sites] timings (ms): ${JSON.stringify(timings)}`);
  await git?.stop();
  await server?.stop();
  await e?.stop();
});

/**
 * What a visitor gets from the site through nginx. node:http, not fetch: fetch drops a Host
 * header (a forbidden header name), and nginx's default server closes unnamed requests (444).
 */
function visit(path = "/", host = DOMAIN): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: httpPort, path, headers: { Host: host }, agent: false, timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
    req.on("error", reject);
  });
}

/**
 * Requests the site back to back while `during` runs (bounded: at most 2000 requests and
 * 120 s), and returns every answer that was not a whole page of one release.
 */
async function underLoad<T>(during: () => Promise<T>): Promise<{ result: T; requests: number; bad: string[]; releases: Set<string> }> {
  let done = false;
  const bad: string[] = [];
  const releases = new Set<string>();
  let requests = 0;
  const started = Date.now();
  const loop = (async () => {
    while (!done && requests < 2000 && Date.now() - started < 120_000) {
      requests++;
      try {
        const { status, body } = await visit();
        const m = body.match(/release=(\S+)/g) ?? [];
        if (status !== 200 || m.length !== 1) bad.push(`${status}: ${body.slice(0, 200)}`);
        else releases.add(m[0]!.slice("release=".length));
      } catch (err) {
        bad.push(`error: ${String(err)}`);
      }
    }
  })();
  try {
    const result = await during();
    return { result, requests, bad, releases };
  } finally {
    done = true;
    await loop;
  }
}

async function deploy() {
  const { deploymentId } = await e.api.sites.deploy({ id: siteId });
  await eventually(async () => {
    const d = await e.db.deployment.findUniqueOrThrow({ where: { id: deploymentId } });
    return d.status === "success" || d.status === "failed" ? d : null;
  }, DEPLOY_TIMEOUT_MS);
  return e.db.deployment.findUniqueOrThrow({ where: { id: deploymentId } });
}

const releaseDirs = async () =>
  (await server.sh(`ls -1 /home/brokeforge/deployments/${DOMAIN}`)).split("\n").filter((l) => /^\d{8}-\d{6}/.test(l));
const liveTarget = async () => (await server.sh(`readlink /home/brokeforge/${DOMAIN}`)).trim();

describe("sites and zero-downtime deploys on a real Debian 12 server", () => {
  it("creates the site (server block tested and loaded) and its first deploy serves release 1", async () => {
    // The site user's deploy key, as the packages page shows it ("add this as a deploy key").
    const siteUser = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "site_user" } });
    const deployKey = String((siteUser.configuration as Record<string, unknown> | null)?.deployKey ?? "");
    expect(deployKey).toMatch(/^ssh-ed25519 /);
    await git.authorize(deployKey);
    const phpVersion = (await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "php", status: "active" } })).variant;
    const t0 = Date.now();
    const site = await e.api.sites.create({
      serverId,
      domain: DOMAIN,
      phpVersion,
      repository: git.repoUrl("app", { fromGuest: true }),
      branch: "main",
    });
    siteId = site.id;
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "active", DEPLOY_TIMEOUT_MS);
    const first = await eventually(async () => {
      const d = await e.db.deployment.findFirst({ where: { siteId }, orderBy: { createdAt: "asc" } });
      return d && (d.status === "success" || d.status === "failed") ? d : null;
    }, DEPLOY_TIMEOUT_MS);
    timings.createAndFirstDeploy = Date.now() - t0;
    expect(first.errorLog).toBeNull();
    expect(first.status).toBe("success");
    expect(first.commitMessage).toBe("Release 1");
    expect(first.commitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
    expect(await liveTarget()).toBe(first.releasePath);
    // The layout of the seed: shared files linked into the release, nginx tested before reload.
    await server.sh(`test -L ${first.releasePath}/storage && test -L ${first.releasePath}/.env`);
    await server.sh(`nginx -t`);
    const s = await e.db.site.findUniqueOrThrow({ where: { id: siteId } });
    expect(s.activeDeploymentId).toBe(first.id);
    expect(s.lastDeployedAt).not.toBeNull();
  });

  it("pins the git host's key at the first clone: after the host's key changes, a deploy fails before the swap, says so and how to accept the new key", async () => {
    const knownHost = `[${HOST_FROM_GUEST}]:${git.port}`;
    const pinned = () => server.sh(`ssh-keygen -l -F '${knownHost}' -f /home/brokeforge/.ssh/known_hosts`);
    const oldKey = git.hostKeyFingerprint;
    expect(await pinned()).toContain(oldKey); // accepted at the first clone
    const live = await liveTarget();
    const before = await releaseDirs();

    const newKey = await git.rotateHostKey();
    const d = await deploy();
    expect(d.status).toBe("failed");
    expect(d.errorLog).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
    expect(d.errorLog).toContain(
      `The SSH host key of the git host ${knownHost} is not the one pinned at the first clone (/home/brokeforge/.ssh/known_hosts): nothing was deployed.`,
    );
    expect(d.errorLog).toContain(`run this site command, then deploy again: ssh-keygen -R '${knownHost}'`);
    const op = await e.db.operation.findFirstOrThrow({
      where: { resourceId: d.id, action: "install" },
      include: { milestones: { orderBy: { step: "asc" } } },
    });
    expect(op.milestones.find((m) => m.name === "clone")?.state).toBe("failed");
    expect(op.milestones.map((m) => m.name)).not.toContain("activate"); // failed before the swap
    expect(await liveTarget()).toBe(live);
    expect(await releaseDirs()).toEqual(before);
    expect(d.releasePath).toBeNull();
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
    expect(await pinned()).toContain(oldKey); // a refused key is never written over the pinned one

    // What the message says to do: the site command forgets the pinned key; the next deploy pins the new one.
    const { id } = await e.api.siteCommands.run({ siteId, command: `ssh-keygen -R '${knownHost}'`, timeoutSeconds: 30 });
    const forgot = await eventually(async () => {
      const c = await e.db.siteCommand.findUniqueOrThrow({ where: { id } });
      return c.status === "success" || c.status === "failed" ? c : null;
    }, DEPLOY_TIMEOUT_MS);
    expect(forgot.exitCode).toBe(0);
    const again = await deploy();
    expect(again.status).toBe("success");
    const nowPinned = await pinned();
    expect(nowPinned).toContain(newKey);
    expect(nowPinned).not.toContain(oldKey);
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
  });

  it("a site update nginx -t refuses (a file hand-edited on the server is broken) is never loaded: nginx's message names the file, the old server block runs on; with the file gone the update goes through; a 253-character alias is served", async () => {
    const available = `/etc/nginx/sites-available/${DOMAIN}.conf`;
    const handEdited = "/etc/nginx/conf.d/hand-edited.conf";
    const blockBefore = await server.sh(`cat ${available}`);
    const master = (await server.sh("cat /run/nginx.pid")).trim();
    const workers = () => server.sh(`pgrep -P ${master} | sort`);
    const workersBefore = await workers();
    const pageBefore = await visit();
    const settled = (operationId: string) =>
      eventually(async () => {
        const op = await e.db.operation.findUniqueOrThrow({ where: { id: operationId } });
        return op.state === "succeeded" || op.state === "failed" ? op : null;
      }, DEPLOY_TIMEOUT_MS);

    const setAliases = async (aliases: string[]) => settled((await e.api.sites.update({ id: siteId, aliases })).operationId);

    try {
      // Someone edited nginx on the server by hand and left a typo (nginx runs on: it was never
      // reloaded with it). Every `nginx -t` now fails, so the site's new block must not be loaded.
      await server.sh(`printf 'client_max_body 10m;\\n' > ${handEdited}`);
      const alias = `www.${DOMAIN}`;
      const refused = await setAliases([alias]);
      expect(refused.state).toBe("failed");
      expect(refused.errorLog).toContain(`unknown directive "client_max_body" in ${handEdited}:1`);
      expect(refused.errorLog).toContain("nginx refused the new server block: the previous configuration stays, nothing was reloaded");
      expect(await server.sh(`cat ${available}`)).toBe(blockBefore);
      expect(await server.sh(`ls -A /etc/nginx/sites-available/ /etc/nginx/sites-enabled/`)).not.toMatch(/\.brokeforge-(tmp|old)/);
      // Not reloaded: the same master and the same workers (a reload replaces every worker).
      expect((await server.sh("cat /run/nginx.pid")).trim()).toBe(master);
      expect(await workers()).toBe(workersBefore);
      expect(await visit()).toEqual(pageBefore);
      await expect(visit("/", alias)).rejects.toThrow(); // nginx's catch-all closes an unknown host (444)
      expect((await e.db.site.findUniqueOrThrow({ where: { id: siteId } })).status).toBe("active");

      // The file fixed (here: deleted), the same update goes through: nginx reloads and answers for the alias.
      await server.sh(`rm ${handEdited}`);
      const applied = await setAliases([alias]);
      expect(applied.errorLog).toBeNull();
      expect(applied.state).toBe("succeeded");
      expect(await server.sh(`cat ${available}`)).toContain(`server_name ${DOMAIN} ${alias};`);
      expect(await workers()).not.toBe(workersBefore);
      expect(await visit("/", alias)).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });

      // The longest name validation accepts (DNS's 253 characters) fits nginx's
      // server_names_hash_bucket_size: applied and served under that Host.
      const longest = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(45)}.brokeforge.test`;
      expect(longest).toHaveLength(253);
      const withLongest = await setAliases([alias, longest]);
      expect(withLongest.errorLog).toBeNull();
      expect(withLongest.state).toBe("succeeded");
      expect(await server.sh(`cat ${available}`)).toContain(`server_name ${DOMAIN} ${alias} ${longest};`);
      expect(await visit("/", longest)).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
      expect(await visit("/", alias)).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
    } finally {
      // As the cases after this one found it, whatever failed above: no broken file, no alias.
      await server.sh(`rm -f ${handEdited}`);
      expect((await setAliases([])).state).toBe("succeeded");
    }
    expect(await server.sh(`cat ${available}`)).toBe(blockBefore);
  });

  it("a request running while php-fpm reloads (as every deploy does) gets its whole page", async () => {
    const phpVersion = (await e.db.site.findUniqueOrThrow({ where: { id: siteId } })).phpVersion;
    const slow = visit("/slow.php");
    // One second into its three: the worker has sent the headers and sleeps.
    await new Promise((r) => setTimeout(r, 1000));
    await server.sh(`systemctl reload php${phpVersion}-fpm`);
    expect(await slow).toEqual({ status: 200, body: "slow started\nslow finished release=1\n" });
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
  });

  it("the shared .env reaches the app, and its value is in no log or API answer", async () => {
    const marker = `marker-${Date.now()}`;
    await e.api.sites.setEnv({ id: siteId, env: `APP_MARKER=${marker}\n` });
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "active", DEPLOY_TIMEOUT_MS);
    const d = await deploy();
    expect(d.status).toBe("success");
    expect((await visit()).body).toContain(`env=${marker}`);
    const logs = await e.db.operationOutput.findMany({ where: { operation: { serverId } } });
    const milestones = await e.db.operationMilestone.findMany({ where: { operation: { serverId } } });
    const ops = await e.db.operation.findMany({ where: { serverId } });
    const everything = JSON.stringify([logs.map((l) => l.text), milestones, ops]);
    expect(everything).not.toContain(marker);
    expect(JSON.stringify(await e.api.sites.byId({ id: siteId }))).not.toContain(marker);
    expect(JSON.stringify(await e.api.sites.list({ serverId }))).not.toContain(marker);
  });

  it("deploys release 2 under a stream of requests: no error, no mixed page, the new code at once", async () => {
    await git.commit("app", phpApp("2"), "Release 2");
    const t0 = Date.now();
    const { result: d, requests, bad, releases } = await underLoad(deploy);
    timings.deploy2 = Date.now() - t0;
    expect(d.status).toBe("success");
    expect(bad).toEqual([]);
    expect(requests).toBeGreaterThan(10);
    expect([...releases].every((r) => r === "1" || r === "2")).toBe(true);
    // OPcache follows the swap ($realpath_root): the very next request is release 2.
    expect((await visit()).body).toContain("release=2");
  });

  it("rolls back to release 1 under the same stream of requests", async () => {
    const first = await e.db.deployment.findFirstOrThrow({ where: { siteId, commitMessage: "Release 1" }, orderBy: { createdAt: "asc" } });
    const t0 = Date.now();
    const { bad, requests } = await underLoad(async () => {
      await e.api.deployments.rollback({ id: first.id });
      await eventually(
        async () => ((await e.db.site.findUniqueOrThrow({ where: { id: siteId } })).activeDeploymentId === first.id ? true : null),
        DEPLOY_TIMEOUT_MS,
      );
    });
    timings.rollback = Date.now() - t0;
    expect(bad).toEqual([]);
    expect(requests).toBeGreaterThan(0);
    expect((await visit()).body).toContain("release=1");
    expect(await liveTarget()).toBe(first.releasePath);
  });

  it("a deploy whose script fails leaves the live site untouched and its release directory gone", async () => {
    const live = await liveTarget();
    const before = await releaseDirs();
    await e.api.sites.update({ id: siteId, deployScript: "echo building\nexit 3" });
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "active", DEPLOY_TIMEOUT_MS);
    const d = await deploy();
    expect(d.status).toBe("failed");
    expect(d.errorLog).toMatch(/exit 3|exited with 3/);
    expect(await liveTarget()).toBe(live);
    expect((await visit()).body).toContain("release=1");
    expect(await releaseDirs()).toEqual(before);
    expect(d.releasePath).toBeNull();
  });

  it("a failing health check swaps straight back to the previous release", async () => {
    const live = await liveTarget();
    await e.api.sites.update({ id: siteId, deployScript: "true", healthCheckPath: "/missing-health.php" });
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "active", DEPLOY_TIMEOUT_MS);
    const d = await deploy();
    expect(d.status).toBe("failed");
    expect(d.rolledBack).toBe(true);
    expect(d.errorLog).toMatch(/health/i);
    expect(await liveTarget()).toBe(live);
    expect((await visit()).body).toContain("release=1");
    await e.api.sites.update({ id: siteId, healthCheckPath: "/health.php" });
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "active", DEPLOY_TIMEOUT_MS);
    expect((await deploy()).status).toBe("success");
  });

  it(
    `twenty deploys leave exactly ${KEEP_RELEASES} successful releases, the active one and the rollback target among them`,
    async () => {
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) expect((await deploy()).status).toBe("success");
      timings.twentyDeploys = Date.now() - t0;
      const dirs = await releaseDirs();
      const kept = await e.db.deployment.findMany({ where: { siteId, releasePath: { not: null } } });
      expect(dirs).toHaveLength(KEEP_RELEASES);
      expect(kept.map((d) => d.release).sort()).toEqual([...dirs].sort());
      expect(kept.every((d) => d.status === "success")).toBe(true);
      const site = await e.db.site.findUniqueOrThrow({ where: { id: siteId } });
      expect(kept.map((d) => d.id)).toContain(site.activeDeploymentId);
      const pruned = await e.db.deployment.count({ where: { siteId, status: "success", releasePath: null } });
      expect(pruned).toBeGreaterThan(0);
      expect((await visit()).body).toContain("release=2");
    },
    30 * 60_000,
  );

  it("prune --dry-run deletes nothing; sites.prune({ keep: 3 }) after a rollback: the newest 3 and the live release stay, the rest go, their rows keep their records without a path; twice is harmless", async () => {
    const onDisk = () =>
      e.db.deployment.findMany({ where: { siteId, status: "success", releasePath: { not: null } }, orderBy: { createdAt: "desc" } });
    const before = await onDisk();
    // Live: an older release (the 6th newest) after a rollback, so the live one is not among the newest 3.
    const live = before[5]!;
    await e.api.deployments.rollback({ id: live.id });
    await until(() => e.db.deployment.findUnique({ where: { id: live.id } }), "success", DEPLOY_TIMEOUT_MS);
    expect(await liveTarget()).toBe(live.releasePath);
    const settled = async (operationId: string) => {
      const op = await eventually(async () => {
        const o = await e.db.operation.findUniqueOrThrow({ where: { id: operationId } });
        return o.state === "succeeded" || o.state === "failed" ? o : null;
      }, DEPLOY_TIMEOUT_MS);
      expect([op.state, op.errorLog]).toEqual(["succeeded", null]);
    };

    // The dry run (`deployments:prune --dry-run` asks exactly this) lists what would go and deletes nothing.
    const dirsBefore = (await releaseDirs()).sort();
    const [dry] = await e.api.deployments.prunable({ siteId, keep: 3 });
    const wouldGo = before.filter((d) => ![...before.slice(0, 3), live].includes(d)).map((d) => d.release);
    expect(dry!.releases.map((r) => r.release).sort()).toEqual(wouldGo.sort());
    expect((await releaseDirs()).sort()).toEqual(dirsBefore);

    await settled((await e.api.sites.prune({ id: siteId, keep: 3 })).operationId);
    // Kept: the newest 3 (the newest is the rollback target) and the live one; failed deploys never counted.
    const kept = [...before.slice(0, 3), live].map((d) => d.release).sort();
    expect((await releaseDirs()).sort()).toEqual(kept);
    expect((await onDisk()).map((d) => d.release).sort()).toEqual(kept);
    const gone = before.filter((d) => !kept.includes(d.release));
    const rows = await e.db.deployment.findMany({ where: { id: { in: gone.map((d) => d.id) } } });
    expect(rows.map((d) => [d.status, d.releasePath])).toEqual(gone.map(() => ["success", null]));
    const site = await e.db.site.findUniqueOrThrow({ where: { id: siteId } });
    expect([site.keepReleases, site.status, site.activeDeploymentId]).toEqual([3, "active", live.id]);
    expect(await liveTarget()).toBe(live.releasePath);
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=2") });

    // Again (the site's own setting now): nothing beyond it, nothing deleted.
    await settled((await e.api.sites.prune({ id: siteId })).operationId);
    expect((await releaseDirs()).sort()).toEqual(kept);
    expect(await visit()).toMatchObject({ status: 200, body: expect.stringContaining("release=2") });
  });

  it("runs a command in the live release as the site user: output, exit code and duration kept; re-run from history", async () => {
    const settled = (id: string) =>
      eventually(async () => {
        const c = await e.db.siteCommand.findUniqueOrThrow({ where: { id } });
        return c.status === "success" || c.status === "failed" ? c : null;
      }, DEPLOY_TIMEOUT_MS);
    const failing = await e.api.siteCommands.run({
      siteId,
      command: "id -un; pwd; php -r 'echo PHP_MAJOR_VERSION, PHP_EOL;'; grep -o 'release=[0-9]*' public/index.php; echo oops >&2; exit 4",
      timeoutSeconds: 60,
    });
    const c = await settled(failing.id);
    expect(c.status).toBe("failed");
    expect(c.exitCode).toBe(4);
    expect(c.stdout).toContain("brokeforge");
    expect(c.stdout).toMatch(new RegExp(`^/home/brokeforge/(deployments/)?${DOMAIN.replaceAll(".", "\\.")}`, "m")); // the live release
    expect(c.stdout).toMatch(/^8$/m);
    expect(c.stdout).toContain("release=2");
    expect(c.stderr).toContain("oops");
    expect(c.durationMs).toEqual(expect.any(Number)); // recorded
    const again = await e.api.siteCommands.rerun({ id: failing.id });
    expect((await settled(again.id)).exitCode).toBe(4);
    const ok = await settled((await e.api.siteCommands.run({ siteId, command: "echo fine", timeoutSeconds: 30 })).id);
    expect({ status: ok.status, exitCode: ok.exitCode, stdout: ok.stdout?.trim() }).toEqual({
      status: "success",
      exitCode: 0,
      stdout: "fine",
    });
    const history = await e.api.siteCommands.list({ siteId });
    expect(history.map((h) => h.id).slice(0, 3)).toEqual([ok.id, again.id, failing.id]);
  });

  it("a site command's output is stored line by line while it runs; one leaving a process behind ends at once; the timeout still kills", async () => {
    const settled = (id: string, timeoutMs = DEPLOY_TIMEOUT_MS) =>
      eventually(async () => {
        const c = await e.db.siteCommand.findUniqueOrThrow({ where: { id } });
        return c.status === "success" || c.status === "failed" ? c : null;
      }, timeoutMs);
    const stored = (operationId: string, stream = "stdout") =>
      e.db.operationOutput.findMany({ where: { operationId, stream }, orderBy: { id: "asc" } }).then((r) => r.map((l) => l.text));

    // "one" is in OperationOutput (what the page's LogViewer streams) while the command still runs.
    const live = await e.api.siteCommands.run({ siteId, command: "echo one; sleep 6; echo two >&2; echo three", timeoutSeconds: 60 });
    await eventually(async () => (await stored(live.operationId)).includes("one"), 30_000);
    const during = await e.db.siteCommand.findUniqueOrThrow({ where: { id: live.id } });
    expect(during.status).toBe("installing");
    expect(await stored(live.operationId)).not.toContain("three");
    const done = await settled(live.id);
    expect([done.status, done.exitCode, done.stdout, done.stderr]).toEqual(["success", 0, "one\nthree", "two"]);
    // Each line once: the tails read for the row are not stored again.
    expect((await stored(live.operationId)).filter((t) => t === "one" || t === "three")).toEqual(["one", "three"]);
    expect(await stored(live.operationId, "stderr")).toEqual(["two"]);

    // A background process holding the output open does not keep the command (timeout 600 s) going.
    const bg = await e.api.siteCommands.run({ siteId, command: "sleep 300 & echo started", timeoutSeconds: 600 });
    const ended = await settled(bg.id, 120_000);
    expect([ended.status, ended.exitCode, ended.stdout]).toEqual(["success", 0, "started"]);
    expect((await server.exec("pgrep -u brokeforge -x sleep")).stdout).toBe(""); // stopped with the command

    // The timeout kills the command, and its children, with timeout(1)'s exit code.
    const slow = await e.api.siteCommands.run({ siteId, command: "echo before; sleep 30 & sleep 30", timeoutSeconds: 2 });
    const killed = await settled(slow.id, 120_000);
    expect([killed.status, killed.exitCode, killed.stdout]).toEqual(["failed", 124, "before"]);
    expect(killed.errorLog).toContain("The command timed out after 2 s");
    expect((await server.exec("pgrep -u brokeforge -x sleep")).stdout).toBe("");
  });

  it("keeps each deploy's whole log on the server beside the releases: a failed deploy's too, a pruned release's goes", async () => {
    const logOf = (release: string) => `/home/brokeforge/deployments/${DOMAIN}/logs/${release}.log`;
    const lines = async (operationId: string) =>
      (await e.db.operationOutput.findMany({ where: { operationId, stream: { in: ["stdout", "stderr"] } } })).map((l) => l.text);
    const deployOperation = async (id: string) => (await e.api.deployments.byId({ id })).operationId!;

    // A failed deploy: its release directory is gone, its log stays, with the script's output and the cleanup.
    // (the deploy whose script was "echo building\nexit 3")
    const failed = await e.db.deployment.findFirstOrThrow({
      where: { siteId, status: "failed", rolledBack: false, errorLog: { contains: "$ exit 3" } },
    });
    expect(failed.releasePath).toBeNull();
    expect((await e.api.deployments.byId({ id: failed.id })).logPath).toBe(logOf(failed.release));
    expect((await server.sh(`stat -c '%U %a' ${logOf(failed.release)}`)).trim()).toBe("brokeforge 640");
    const failedLog = (await server.sh(`cat ${logOf(failed.release)}`)).split("\n");
    expect(failedLog.filter((l) => l.startsWith("==> ")).map((l) => l.replace(/^==> \[[^\]]+\] /, ""))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Cloning main of .* \(clone#1\)$/),
        "$ echo building (deploy_script#1)",
        "$ exit 3 (deploy_script#2)",
        "Deleting the release unless it is live (cleanup#1)",
      ]),
    );
    // Every line the deploy's live log stored is in the file.
    for (const text of await lines(await deployOperation(failed.id))) expect(failedLog).toContain(text);
    expect(failedLog).toContain("building");

    // A successful deploy: its log from the clone to the prune.
    const good = await e.db.deployment.findFirstOrThrow({
      where: { siteId, status: "success", releasePath: { not: null } },
      orderBy: { createdAt: "desc" },
    });
    const goodLog = (await server.sh(`cat ${logOf(good.release)}`)).split("\n");
    for (const text of await lines(await deployOperation(good.id))) expect(goodLog).toContain(text);
    expect(goodLog.some((l) => / Making \S+ live \(activate#1\)$/.test(l))).toBe(true);
    expect(goodLog.some((l) => l.endsWith("(prune#1)"))).toBe(true);

    // Pruned releases' logs went with their directories.
    const pruned = await e.db.deployment.findMany({ where: { siteId, status: "success", releasePath: null } });
    expect(pruned.length).toBeGreaterThan(0);
    const left = await server.exec(pruned.map((d) => `test -e ${logOf(d.release)} && echo ${d.release}`).join("; ") + "; true");
    expect(left.stdout).toBe("");
    expect((await e.api.deployments.byId({ id: pruned[0]!.id })).logPath).toBeNull();
  });

  it("removes the site (typed domain): server block and files gone, nginx still valid, deployments kept for audit", async () => {
    const deployments = await e.db.deployment.count({ where: { siteId } });
    await expect(e.api.sites.remove({ id: siteId, confirmDomain: "not-the-domain.test" })).rejects.toThrow(/Type app\.brokeforge\.test/);
    await e.api.sites.remove({ id: siteId, confirmDomain: DOMAIN });
    await until(() => e.db.site.findUnique({ where: { id: siteId } }), "deleted", DEPLOY_TIMEOUT_MS);
    await server.sh(`nginx -t`);
    const left = await server.exec(
      `ls /etc/nginx/sites-enabled/${DOMAIN}.conf /etc/nginx/sites-available/${DOMAIN}.conf /home/brokeforge/${DOMAIN} /home/brokeforge/deployments/${DOMAIN} 2>&1`,
    );
    expect(left.stdout.match(/No such file or directory/g)).toHaveLength(4);
    await expect(visit()).rejects.toThrow(); // nginx's catch-all closes an unknown host (444)
    expect(await e.db.deployment.count({ where: { domain: DOMAIN, siteId: null } })).toBe(deployments);
  });
});

// The same server through a user's eyes: in Debian's chromium, against the real web app, a
// second site is created on the form, deployed with the Deploy button while its log streams into
// the page, and rolled back with its Roll back button. Self-contained (its own repository and
// site; the deploy key authorized again) so it can run alone with `-t browser`.
describe("sites in the browser on the real Debian 12 server", () => {
  const HOST = "browser.brokeforge.test";
  const PASSWORD = "a long enough password";
  let web: Awaited<ReturnType<typeof startTestWeb>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    web = await startTestWeb();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
  });

  /** What a visitor of HOST gets through nginx (visit() asks for DOMAIN). */
  const visitHost = (): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.get(
        { host: "127.0.0.1", port: httpPort, path: "/", headers: { Host: HOST }, agent: false, timeout: 10_000 },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer in 10 s")));
      req.on("error", reject);
    });

  it(
    "creates a site on the form, clicks Deploy and watches its log line by line and its badge go Deploying → Success without a reload, then rolls back to release 1",
    async () => {
      await git.createRepo("browser");
      await git.commit("browser", phpApp("1"), "Browser release 1");
      const siteUser = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "site_user" } });
      await git.authorize(String((siteUser.configuration as Record<string, unknown> | null)?.deployKey ?? ""));
      // The engine's user (who owns the server) gets a password, and logs in like anyone.
      await e.db.user.update({ where: { id: e.userId }, data: { passwordHash: await hash(PASSWORD) } });
      const { email } = await e.db.user.findUniqueOrThrow({ where: { id: e.userId } });
      await page.goto(`${web.url}/login`);
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(`${web.url}/`);

      await page.goto(`${web.url}/servers/${serverId}/sites`);
      await page.getByLabel("Domain").fill(HOST);
      await page.getByLabel("Repository").fill(git.repoUrl("browser", { fromGuest: true }));
      // One line, one step: its first echo must reach the page while it sleeps.
      await page.getByLabel("Deploy script").fill("echo step-a; sleep 3; echo step-b");
      await page.getByRole("button", { name: "Create site" }).click();
      const row = page.getByTestId(`site-${HOST}`);
      await row.waitFor();
      await row.getByRole("link").click();
      await page.getByRole("heading", { name: HOST }).waitFor();
      const site = await e.db.site.findFirstOrThrow({ where: { serverId, domain: HOST } });
      expect(page.url()).toBe(`${web.url}/sites/${site.id}`);

      // The site's first deploy starts with it: its badge turns Success on the page.
      const history = page.getByRole("list", { name: "Deployment history" });
      const badgeOf = (release: string) => history.getByTestId(`deployment-${release}`).getByTestId("deployment-status");
      const first = await e.db.deployment.findFirstOrThrow({ where: { siteId: site.id }, orderBy: { createdAt: "asc" } });
      await badgeOf(first.release).filter({ hasText: "Success" }).waitFor({ timeout: DEPLOY_TIMEOUT_MS });
      expect(await visitHost()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });

      // Release 2 with the Deploy button. The page records, from inside (a MutationObserver), what
      // it showed at every change: whose log, its lines, the newest deployment and its badge.
      await git.commit("browser", phpApp("2"), "Browser release 2");
      await page.evaluate(() => {
        type Seen = { logOf: string; lines: string[]; newest: string; badge: string };
        const seen: Seen[] = [];
        Object.assign(window, { seen, sameDocument: true });
        const look = () => {
          const log = document.querySelector('[data-testid="deployment-log"]');
          const newest = document.querySelector('[aria-label="Deployment history"] > li');
          const now: Seen = {
            logOf: log?.querySelector("p .font-mono")?.textContent ?? "",
            lines: [...(log?.querySelectorAll('[data-testid="log-viewer"] div[style*="top"]') ?? [])].map((l) => l.textContent ?? ""),
            newest: newest?.getAttribute("data-testid") ?? "",
            badge: newest?.querySelector('[data-testid="deployment-status"]')?.textContent ?? "",
          };
          if (JSON.stringify(seen.at(-1)) !== JSON.stringify(now)) seen.push(now);
        };
        new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        look();
      });
      await page.getByRole("button", { name: "Deploy", exact: true }).click();
      const second = await eventually(
        () => e.db.deployment.findFirst({ where: { siteId: site.id, id: { not: first.id } }, orderBy: { createdAt: "desc" } }),
        30_000,
      );
      await badgeOf(second.release).filter({ hasText: "Success" }).waitFor({ timeout: DEPLOY_TIMEOUT_MS });
      await page.locator('[data-testid="deployment-log"] [data-testid="log-state"]').filter({ hasText: "Finished" }).waitFor();
      const seen = (
        await page.evaluate(() => (window as unknown as { seen: { logOf: string; lines: string[]; newest: string; badge: string }[] }).seen)
      ).filter((s) => s.logOf === second.release && s.newest === `deployment-${second.release}`);
      // step-a on the page while the deploy still ran and step-b had not come yet; then both, in order, and Success.
      expect(seen.some((s) => s.lines.includes("step-a") && !s.lines.includes("step-b") && s.badge.endsWith("Deploying"))).toBe(true);
      const last = seen.at(-1)!;
      expect(last.badge).toBe("✓Success");
      expect(last.lines.indexOf("step-a")).toBeGreaterThan(-1);
      expect(last.lines.indexOf("step-b")).toBeGreaterThan(last.lines.indexOf("step-a"));
      expect(seen.findIndex((s) => s.badge.endsWith("Deploying"))).toBeLessThan(seen.findIndex((s) => s.badge === "✓Success"));
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true); // no reload
      expect(await visitHost()).toMatchObject({ status: 200, body: expect.stringContaining("release=2") });

      // Roll back on the first release's row: it becomes the live one on the page, and nginx serves it.
      await history.getByTestId(`deployment-${first.release}`).getByRole("button", { name: "Roll back" }).click();
      await page.getByTestId("active-deployment").filter({ hasText: first.release }).waitFor({ timeout: DEPLOY_TIMEOUT_MS });
      await history.getByTestId(`deployment-${second.release}`).getByRole("button", { name: "Roll back" }).waitFor();
      expect(await visitHost()).toMatchObject({ status: 200, body: expect.stringContaining("release=1") });
      expect((await server.sh(`readlink /home/brokeforge/${HOST}`)).trim()).toBe(first.releasePath);
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    },
    2 * DEPLOY_TIMEOUT_MS + 120_000,
  );
});
