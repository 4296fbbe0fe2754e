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
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEEP_RELEASES } from "../../domain/sites";
import { startGitServer, phpApp, type GitServer } from "../fixtures/git-server";
import { startEngine, eventually, type Engine } from "../setup/engine";
import { addToBrokeForge, until } from "./brokeforge";
import { bootDebian, type DebianServer } from "./harness";

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
function visit(path = "/"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port: httpPort, path, headers: { Host: DOMAIN }, agent: false, timeout: 10_000 }, (res) => {
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
