// The site's "prune" action through the engine's activities (loadOperation, beginOperation,
// completeOperation, failOperation), in a mocked activity context against this file's own
// database: the plan is built from the site's deployments as `related.children` loads them (on
// the site's server only), and the settling transaction clears exactly the pruned rows' paths.
// What the step does on a server is tests/debian/sites.test.ts's.
import { MockActivityEnvironment } from "@temporalio/testing";
import { DefaultLogger } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageDefinition } from "../../catalogue";
import { DELETE_UNLESS_LIVE } from "../../catalogue/commands/releases";
import { beginOperation, completeOperation, failOperation } from "../../activities/operations";
import { loadOperation, planOf } from "../../activities/plans";
import { db } from "../../core/db";
import type { QueuedOperation } from "../../domain/resources";
import { setupTestEnv, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let userId: string;
const activity = new MockActivityEnvironment(
  { workflowExecution: { workflowId: "site-prune", runId: "0f0e0d0c-0000-4000-8000-000000000002" } },
  { logger: new DefaultLogger("ERROR") },
);

beforeAll(async () => {
  env = await setupTestEnv();
  userId = (await db().user.create({ data: { email: `site-prune-${env.taskQueue}@example.com`, passwordHash: "x" } })).id;
});
afterAll(async () => {
  if (env) await teardownTestEnv(env);
});

let n = 0;
async function newServer() {
  const server = await db().server.create({ data: { userId, name: `prune-${++n}`, host: "127.0.0.1" } });
  await db().serverPackage.create({
    data: { serverId: server.id, type: "nginx", name: packageDefinition("nginx")!.name, status: "active" },
  });
  return server;
}

/** A site (active, keeping 2) with successes 1…6 on disk (6 live), a failed deploy, and a queued prune. */
async function prunableSite() {
  const server = await newServer();
  const domain = `prune${n}.example.com`;
  const site = await db().site.create({
    data: {
      serverId: server.id,
      domain,
      phpVersion: "8.2",
      deployScript: "",
      deployTokenHash: `hash-${domain}`,
      deployTokenEncrypted: "x",
      keepReleases: 2,
      status: "updating",
    },
  });
  const dir = `/home/brokeforge/deployments/${domain}`;
  const made = [];
  for (let i = 1; i <= 6; i++) {
    const release = `20261201-10000${i}`;
    made.push(
      await db().deployment.create({
        data: {
          serverId: server.id,
          siteId: site.id,
          domain,
          release,
          branch: "main",
          status: "success",
          releasePath: `${dir}/${release}`,
          createdAt: new Date(Date.UTC(2026, 11, 1, 10, 0, i)),
        },
      }),
    );
  }
  await db().deployment.create({
    data: { serverId: server.id, siteId: site.id, domain, release: "20261201-110000", branch: "main", status: "failed" },
  });
  await db().site.update({ where: { id: site.id }, data: { activeDeploymentId: made[5]!.id } });
  const op = await db().operation.create({
    data: {
      serverId: server.id,
      userId,
      kind: "site.prune",
      title: `Prune ${domain} (keep 2 releases)`,
      resourceType: "site",
      resourceId: site.id,
      action: "prune",
      state: "queued",
      previousStatus: "active",
      createdResource: false,
    },
  });
  const queued: QueuedOperation = {
    operationId: op.id,
    serverId: server.id,
    kind: op.kind,
    title: op.title,
    resourceType: "site",
    resourceId: site.id,
    action: "prune",
    timeoutSeconds: 600,
  };
  return { server, site, made, dir, queued };
}

const paths = (siteId: string) =>
  db()
    .deployment.findMany({ where: { siteId }, orderBy: { createdAt: "asc" } })
    .then((rows) => rows.map((d) => [d.release, d.status, d.releasePath !== null]));

describe("a site's prune through the engine", () => {
  it("plans from the site's own deployments (this server's only) and, on success, clears exactly the pruned rows' paths", async () => {
    const { site, made, dir, queued } = await prunableSite();
    // A row of another server naming this site: never the site's to prune.
    const elsewhere = await newServer();
    await db().deployment.create({
      data: {
        serverId: elsewhere.id,
        siteId: site.id,
        domain: site.domain,
        release: "20261101-100000",
        branch: "main",
        status: "success",
        releasePath: `${dir}/20261101-100000`,
        createdAt: new Date(Date.UTC(2026, 10, 1)),
      },
    });

    const loaded = (await loadOperation(queued.operationId, queued.serverId))!;
    expect(loaded.related.children?.map((d) => d.release)).toEqual(["20261201-110000", ...made.map((d) => d.release).reverse()]);
    // Keep 2 of 6…1: 6 (live) and 5 (the rollback target); 4…1 go, each with its deploy log.
    const gone = ["20261201-100004", "20261201-100003", "20261201-100002", "20261201-100001"];
    expect(planOf({ ...loaded, resource: loaded.resource! }).map((m) => [m.name, m.steps.map((s) => s.argv)])).toEqual([
      [
        "prune",
        [
          [
            "runuser",
            "-u",
            "brokeforge",
            "--",
            "sh",
            "-c",
            DELETE_UNLESS_LIVE,
            "sh",
            `/home/brokeforge/${site.domain}`,
            ...gone.flatMap((r) => [`${dir}/${r}`, `${dir}/logs/${r}.log`]),
          ],
        ],
      ],
    ]);

    expect(await activity.run(beginOperation, queued)).toMatchObject({ milestones: [{ name: "prune" }], hasRemoteChecks: true });
    expect((await db().site.findUniqueOrThrow({ where: { id: site.id } })).status).toBe("updating");
    await activity.run(completeOperation, queued);
    expect(await paths(site.id)).toEqual([
      ["20261101-100000", "success", true], // the other server's row: untouched
      ["20261201-100001", "success", false],
      ["20261201-100002", "success", false],
      ["20261201-100003", "success", false],
      ["20261201-100004", "success", false],
      ["20261201-100005", "success", true],
      ["20261201-100006", "success", true],
      ["20261201-110000", "failed", false],
    ]);
    expect(await db().site.findUniqueOrThrow({ where: { id: site.id } })).toMatchObject({ status: "active", errorLog: null });
    expect((await db().operation.findUniqueOrThrow({ where: { id: queued.operationId } })).state).toBe("succeeded");
  });

  it("a prune that failed clears no path (what went is unknown) and puts the site back as it was, with the error", async () => {
    const { site, queued } = await prunableSite();
    await activity.run(beginOperation, queued);
    await activity.run(failOperation, { op: queued, error: "Connection lost" });
    expect((await paths(site.id)).filter(([, status, onDisk]) => status === "success" && !onDisk)).toEqual([]);
    expect(await db().site.findUniqueOrThrow({ where: { id: site.id } })).toMatchObject({ status: "active", errorLog: "Connection lost" });
  });
});
