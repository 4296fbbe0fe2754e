// The sites API as the site pages, the CLI and a git host use it, on the real engine's front
// half (Postgres, Temporal) with the queue held: no worker runs, so every operation stays queued
// and what is asserted is what the API decides and records. The deploys themselves run on real
// Debian servers in tests/debian/sites.test.ts.
import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { TRPCError } from "@trpc/server";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fieldErrorsOf } from "../../domain/schemas";
import { RELEASE_NAME } from "../../domain/sites";
import type { AppRouter } from "../../trpc/router";
import { startTestWeb } from "../setup/app";
import { startEngine, type Engine } from "../setup/engine";

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;

beforeAll(async () => {
  e = await startEngine({ worker: false }); // the held queue: nothing runs on the servers
  web = await startTestWeb();
});
afterAll(async () => {
  await web?.close();
  await e?.stop();
});

type Api = Engine["api"];

async function newUser(label: string) {
  const { createCaller } = await import("../../trpc/router");
  const user = await e.db.user.create({
    data: { email: `${label}-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: "x" },
  });
  return { user, api: createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${user.id}` } }, ip: "127.0.0.1" }) };
}

/** A server of the engine's user with nginx, the site user and PHP 8.2 installed (rows, as a provisioning leaves them). */
async function webServer(name: string): Promise<string> {
  const server = await e.addServer(name, { packages: ["nginx", "site_user"] });
  await e.db.serverPackage.create({ data: { serverId: server.id, type: "php", name: "php8.2", variant: "8.2", status: "active" } });
  await e.db.serverPackage.updateMany({
    where: { serverId: server.id, type: "site_user" },
    data: {
      configuration: { home: "/home/brokeforge", deployKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeployKeyOfTheSiteUser brokeforge@test" },
    },
  });
  return server.id;
}

let n = 0;
const REPO = "git@git.example.com:team/app.git";
async function newSite(serverId: string, opts: { repository?: string; api?: Api } = {}) {
  const domain = `app${++n}.example.com`;
  return (opts.api ?? e.api).sites.create({
    serverId,
    domain,
    phpVersion: "8.2",
    ...(opts.repository ? { repository: opts.repository } : {}),
  });
}

/** The error a call was refused with: code, message and per-field messages. */
async function refusal(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof TRPCError)) throw err;
    const cause = err.cause;
    const fieldErrors = cause && "issues" in cause ? fieldErrorsOf(cause as Parameters<typeof fieldErrorsOf>[0]) : null;
    return { code: err.code, message: err.message, fieldErrors };
  }
  throw new Error("expected the call to be refused");
}

/** Marks what a worker would have: the site installed (and optionally deployed). */
async function installed(siteId: string) {
  await e.db.site.update({ where: { id: siteId }, data: { status: "active" } });
}

describe("creating a site", () => {
  it("refuses a bad domain, a PHP the server does not have and a domain it has already, each on its field", async () => {
    const serverId = await webServer("create-checks");
    const bad = await refusal(e.api.sites.create({ serverId, domain: "not a domain", phpVersion: "8.2" }));
    expect(bad).toMatchObject({ code: "BAD_REQUEST", fieldErrors: { domain: expect.stringMatching(/^Enter a domain like example.com/) } });

    const noPhp = await refusal(e.api.sites.create({ serverId, domain: "shop.example.com", phpVersion: "8.4" }));
    expect(noPhp).toEqual({
      code: "BAD_REQUEST",
      message: "PHP 8.4 is not installed on this server (installed: 8.2)",
      fieldErrors: { phpVersion: "PHP 8.4 is not installed on this server (installed: 8.2)" },
    });

    // Over HTTP too, as the form reads it (the error formatter's fieldErrors).
    const { token } = await e.api.tokens.create({ name: "sites-form" });
    const http = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${web.url}/trpc`, headers: { authorization: `Bearer ${token}` }, transformer: superjson })],
    });
    const overHttp = await http.sites.create
      .mutate({ serverId, domain: "shop.example.com", phpVersion: "8.4" })
      .catch((err: unknown) => err);
    expect(overHttp).toBeInstanceOf(TRPCClientError);
    expect((overHttp as TRPCClientError<AppRouter>).data?.fieldErrors).toEqual({
      phpVersion: "PHP 8.4 is not installed on this server (installed: 8.2)",
    });

    await e.api.sites.create({ serverId, domain: "shop.example.com", phpVersion: "8.2" });
    const duplicate = await refusal(e.api.sites.create({ serverId, domain: "SHOP.example.com", phpVersion: "8.2" }));
    expect(duplicate).toMatchObject({ code: "BAD_REQUEST", fieldErrors: { domain: "shop.example.com is already a site on this server" } });
    expect(await e.db.site.count({ where: { serverId } })).toBe(1);
  });

  it("stores an empty .env secret and a deploy token, queues the install and, with a repository, the first deploy behind it", async () => {
    const serverId = await webServer("create-with-repo");
    const site = await e.api.sites.create({ serverId, domain: "blog.example.com", phpVersion: "8.2", repository: REPO, branch: "trunk" });
    expect(site).toMatchObject({
      status: "pending",
      domain: "blog.example.com",
      repository: REPO,
      branch: "trunk",
      webDirectory: "public",
    });
    expect(site.firstDeploy).toMatchObject({ collapsed: false });

    const ops = await e.db.operation.findMany({ where: { serverId }, orderBy: { createdAt: "asc" } });
    expect(ops.map((o) => [o.kind, o.state, o.title])).toEqual([
      ["site.install", "queued", "Create site blog.example.com"],
      ["deployment.install", "queued", expect.stringMatching(/^Deploy blog\.example\.com \(trunk\) as \d{8}-\d{6}$/)],
    ]);
    const deployment = await e.db.deployment.findUniqueOrThrow({ where: { id: site.firstDeploy!.deploymentId } });
    expect(deployment).toMatchObject({ siteId: site.id, branch: "trunk", trigger: "ui", status: "pending", domain: "blog.example.com" });
    expect(deployment.release).toMatch(RELEASE_NAME);
    expect(deployment.releasePath).toBe(`/home/brokeforge/deployments/blog.example.com/${deployment.release}`);

    const { revealSecret } = await import("../../core/secrets");
    expect(await revealSecret(serverId, `site.env_${site.id}`)).toBe("");
    const row = await e.db.site.findUniqueOrThrow({ where: { id: site.id } });
    expect(row.deployTokenHash).toMatch(/^[0-9a-f]{64}$/);
    // The owner's page shows the hook URL (the token in clear) and the deploy key; never the hash.
    const view = await e.api.sites.byId({ id: site.id });
    const token = new URL(view.deployHookUrl).pathname.split("/").pop()!;
    const { sha256 } = await import("../../core/crypto");
    expect(sha256(token)).toBe(row.deployTokenHash);
    expect(view.deployKey).toMatch(/^ssh-ed25519 /);
    expect(JSON.stringify(view)).not.toContain(row.deployTokenHash);
    expect(JSON.stringify(view)).not.toContain(row.deployTokenEncrypted);
  });
});

describe("the .env", () => {
  it("reaches only the owner's editor: never a list, detail, dashboard or operation row", async () => {
    const serverId = await webServer("env");
    const site = await newSite(serverId);
    const marker = `s3cr3t-${Math.random().toString(36).slice(2)}`;
    const env = `APP_KEY=${marker}\nDB_PASSWORD="${marker}"\n`;

    // Still installing: saved, and the install (which reads it when it runs) writes it.
    expect(await e.api.sites.setEnv({ id: site.id, env })).toEqual({ id: site.id, envVersion: 1, operationId: null });
    expect(await e.api.sites.env({ id: site.id })).toEqual({ env, envVersion: 1 });

    await installed(site.id);
    const saved = await e.api.sites.setEnv({ id: site.id, env: `${env}MORE=1\n` });
    expect(saved).toMatchObject({ envVersion: 2, operationId: expect.any(String) });
    const update = await e.db.operation.findUniqueOrThrow({ where: { id: saved.operationId! } });
    expect(update).toMatchObject({ kind: "site.update", state: "queued", title: `Update site ${site.domain}` });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).status).toBe("updating");

    const responses = [
      await e.api.sites.list({ serverId }),
      await e.api.sites.byId({ id: site.id }),
      await e.api.sites.all(),
      await e.api.operations.list({ serverId }),
      await e.api.servers.byId({ id: serverId }),
      await e.db.operation.findMany({ where: { serverId } }),
      await e.db.site.findMany({ where: { serverId } }),
    ];
    for (const response of responses) expect(JSON.stringify(response)).not.toContain(marker);
    expect((await e.api.sites.byId({ id: site.id })).site).toMatchObject({ envVersion: 2, envOnServer: false });
  });

  it("is checked: more than 64 KiB is refused on its field", async () => {
    const serverId = await webServer("env-size");
    const site = await newSite(serverId);
    expect(await refusal(e.api.sites.setEnv({ id: site.id, env: "X=".padEnd(64 * 1024 + 1, "a") }))).toMatchObject({
      code: "BAD_REQUEST",
      fieldErrors: { env: "The .env file must be at most 64 KiB" },
    });
  });
});

describe("ownership", () => {
  it("another user gets NOT_FOUND for every procedure on the site, its deployments and commands, and no site on the dashboard", async () => {
    const serverId = await webServer("owner");
    const site = await newSite(serverId, { repository: REPO });
    await e.db.site.update({ where: { id: site.id }, data: { status: "active" } });
    const command = await e.db.siteCommand.create({ data: { serverId, siteId: site.id, command: "php -v", status: "success" } });
    const other = await newUser("intruder");
    const id = site.id;
    const deploymentId = site.firstDeploy!.deploymentId;
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["sites.list", () => other.api.sites.list({ serverId })],
      ["sites.byId", () => other.api.sites.byId({ id })],
      ["sites.env", () => other.api.sites.env({ id })],
      ["sites.setEnv", () => other.api.sites.setEnv({ id, env: "A=1" })],
      ["sites.update", () => other.api.sites.update({ id, branch: "evil" })],
      ["sites.deploy", () => other.api.sites.deploy({ id })],
      ["sites.remove", () => other.api.sites.remove({ id, confirmDomain: site.domain })],
      ["sites.prune", () => other.api.sites.prune({ id, keep: 1 })],
      ["deployments.prunable", () => other.api.deployments.prunable({ siteId: id })],
      ["sites.regenerateDeployToken", () => other.api.sites.regenerateDeployToken({ id })],
      ["sites.setWebhookSecret", () => other.api.sites.setWebhookSecret({ id, secret: null })],
      ["sites.create", () => other.api.sites.create({ serverId, domain: "mine.example.com", phpVersion: "8.2" })],
      ["deployments.byId", () => other.api.deployments.byId({ id: deploymentId })],
      ["deployments.rollback", () => other.api.deployments.rollback({ id: deploymentId })],
      ["siteCommands.list", () => other.api.siteCommands.list({ siteId: id })],
      ["siteCommands.run", () => other.api.siteCommands.run({ siteId: id, command: "id" })],
      ["siteCommands.rerun", () => other.api.siteCommands.rerun({ id: command.id })],
    ];
    for (const [name, call] of calls) expect([name, (await refusal(call())).code]).toEqual([name, "NOT_FOUND"]);
    expect(await other.api.sites.all()).toEqual([]);
    // Nothing changed, nothing queued by them.
    expect(await e.db.operation.count({ where: { serverId, userId: other.user.id } })).toBe(0);
    const after = await e.db.site.findUniqueOrThrow({ where: { id } });
    expect([after.branch, after.keepReleases]).toEqual(["main", 14]);
  });
});

describe("deploy", () => {
  it("is refused without a repository, with what to do", async () => {
    const serverId = await webServer("no-repo");
    const site = await newSite(serverId);
    expect(await refusal(e.api.sites.deploy({ id: site.id }))).toEqual({
      code: "PRECONDITION_FAILED",
      message: "This site has no repository to deploy: set one in the site's settings first",
      fieldErrors: null,
    });
    expect(await e.db.deployment.count({ where: { siteId: site.id } })).toBe(0);
  });

  it("joins the deploy that is queued: clicks at once make one deployment; once it runs, the next click is a new one", async () => {
    const serverId = await webServer("collapse");
    const site = await newSite(serverId, { repository: REPO });
    const first = site.firstDeploy!;
    const clicks = await Promise.all(Array.from({ length: 6 }, () => e.api.sites.deploy({ id: site.id })));
    for (const click of clicks)
      expect(click).toEqual({ deploymentId: first.deploymentId, operationId: first.operationId, collapsed: true });
    expect(await e.db.deployment.count({ where: { siteId: site.id } })).toBe(1);

    // The worker picked it up: a deploy now ships whatever was pushed since, so it is new.
    await e.db.deployment.update({ where: { id: first.deploymentId }, data: { status: "updating", startedAt: new Date() } });
    await e.db.operation.update({ where: { id: first.operationId }, data: { state: "running", startedAt: new Date() } });
    const racing = await Promise.all(Array.from({ length: 6 }, () => e.api.sites.deploy({ id: site.id })));
    const fresh = racing.filter((r) => !r.collapsed);
    expect(fresh).toHaveLength(1);
    for (const r of racing) expect(r.deploymentId).toBe(fresh[0]!.deploymentId);
    const rows = await e.db.deployment.findMany({ where: { siteId: site.id }, orderBy: { createdAt: "asc" } });
    expect(rows).toHaveLength(2);
    // Two releases in (most likely) the same second: distinct, sortable names.
    expect(rows[0]!.release).not.toBe(rows[1]!.release);
    expect([rows[0]!.release, rows[1]!.release].sort()).toEqual([rows[0]!.release, rows[1]!.release]);
    expect(await e.db.operation.count({ where: { serverId, kind: "deployment.install" } })).toBe(2);
  });

  it("deployments.byId gives the row and the operation whose output is the deploy's log", async () => {
    const serverId = await webServer("deployment-by-id");
    const site = await newSite(serverId, { repository: REPO });
    const d = await e.api.deployments.byId({ id: site.firstDeploy!.deploymentId });
    expect(d).toMatchObject({ id: site.firstDeploy!.deploymentId, operationId: site.firstDeploy!.operationId, status: "pending" });
  });

  it("history: the site shows the newest 50; older ones come 50 a page by cursor, each once, to the oldest", async () => {
    const serverId = await webServer("deployment-pages");
    const site = await newSite(serverId);
    // 120 deploys, two per second (same createdAt): the order still has to be one order.
    const base = Date.UTC(2026, 10, 1);
    await e.db.deployment.createMany({
      data: Array.from({ length: 120 }, (_, i) => ({
        serverId,
        siteId: site.id,
        domain: site.domain,
        release: `20261101-${String(1_000_000 + i).slice(1)}`,
        branch: "main",
        status: "success" as const,
        createdAt: new Date(base + Math.floor(i / 2) * 1000),
      })),
    });
    const all = await e.db.deployment.findMany({ where: { siteId: site.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

    const detail = await e.api.sites.byId({ id: site.id });
    expect(ids(detail.deployments)).toEqual(ids(all.slice(0, 50)));
    expect(detail.deployments[0]!.release).toBe("20261101-000119");
    const first = await e.api.sites.deployments({ id: site.id });
    expect({ ids: ids(first.deployments), nextCursor: first.nextCursor }).toEqual({
      ids: ids(detail.deployments),
      nextCursor: detail.nextCursor,
    });
    const second = await e.api.sites.deployments({ id: site.id, cursor: first.nextCursor! });
    expect(ids(second.deployments)).toEqual(ids(all.slice(50, 100)));
    const third = await e.api.sites.deployments({ id: site.id, cursor: second.nextCursor! });
    expect(ids(third.deployments)).toEqual(ids(all.slice(100)));
    expect(third.nextCursor).toBeNull();
    expect(third.deployments.at(-1)!.release).toBe("20261101-000000");

    // A deploy meanwhile goes on the first page; the pages already read do not shift.
    await e.db.deployment.create({ data: { serverId, siteId: site.id, domain: site.domain, release: "20261102-000000", branch: "main" } });
    expect((await e.api.sites.deployments({ id: site.id })).deployments[0]!.release).toBe("20261102-000000");
    expect(ids((await e.api.sites.deployments({ id: site.id, cursor: first.nextCursor! })).deployments)).toEqual(ids(second.deployments));

    // Another user's pages: NOT_FOUND, with or without a cursor.
    const other = await newUser("pages-other");
    expect(await refusal(other.api.sites.deployments({ id: site.id }))).toMatchObject({ code: "NOT_FOUND" });
    expect(await refusal(other.api.sites.deployments({ id: site.id, cursor: first.nextCursor! }))).toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("rollback", () => {
  it("goes only to a successful release still on disk that is not live; each refusal says why", async () => {
    const serverId = await webServer("rollback");
    const site = await newSite(serverId, { repository: REPO });
    await installed(site.id);
    const release = (name: string, data: { status: "success" | "failed"; releasePath: string | null }) =>
      e.db.deployment.create({ data: { serverId, siteId: site.id, domain: site.domain, release: name, branch: "main", ...data } });
    const dir = (name: string) => `/home/brokeforge/deployments/${site.domain}/${name}`;
    const old = await release("20261201-100000", { status: "success", releasePath: dir("20261201-100000") });
    const pruned = await release("20261130-100000", { status: "success", releasePath: null });
    const failed = await release("20261201-110000", { status: "failed", releasePath: null });
    const live = await release("20261201-120000", { status: "success", releasePath: dir("20261201-120000") });
    await e.db.site.update({ where: { id: site.id }, data: { activeDeploymentId: live.id } });

    expect((await e.api.sites.byId({ id: site.id })).rollbackCandidates.map((d) => d.id)).toEqual([old.id]);
    expect(await refusal(e.api.deployments.rollback({ id: live.id }))).toMatchObject({
      code: "CONFLICT",
      message: "Release 20261201-120000 is already the live one",
    });
    expect(await refusal(e.api.deployments.rollback({ id: pruned.id }))).toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "Release 20261130-100000 was pruned: its directory is gone",
    });
    expect(await refusal(e.api.deployments.rollback({ id: failed.id }))).toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "Only a successful deploy can be rolled back to (this one is failed)",
    });
    const started = await e.api.deployments.rollback({ id: old.id });
    expect(await e.db.operation.findUniqueOrThrow({ where: { id: started.operationId } })).toMatchObject({
      kind: "deployment.rollback",
      state: "queued",
      title: `Roll back ${site.domain} to 20261201-100000`,
    });
    expect((await e.db.deployment.findUniqueOrThrow({ where: { id: old.id } })).status).toBe("updating");
  });
});

describe("prune", () => {
  /** Successful releases 1…n on disk (n the newest and live), and one failed deploy among them. */
  async function deployed(n: number) {
    const serverId = await webServer("prune");
    const site = await newSite(serverId, { repository: REPO });
    await e.db.deployment.deleteMany({ where: { siteId: site.id } });
    await installed(site.id);
    const made = [];
    for (let i = 1; i <= n; i++) {
      const release = `20261201-1000${String(i).padStart(2, "0")}`;
      made.push(
        await e.db.deployment.create({
          data: {
            serverId,
            siteId: site.id,
            domain: site.domain,
            release,
            branch: "main",
            status: "success",
            releasePath: `/home/brokeforge/deployments/${site.domain}/${release}`,
            createdAt: new Date(Date.UTC(2026, 11, 1, 10, 0, i)),
          },
        }),
      );
    }
    await e.db.deployment.create({
      data: { serverId, siteId: site.id, domain: site.domain, release: "20261201-110000", branch: "main", status: "failed" },
    });
    await e.db.site.update({ where: { id: site.id }, data: { activeDeploymentId: made.at(-1)!.id } });
    return { serverId, site, made };
  }

  it("queues one prune on the site's server; keep becomes the site's retention, and the dry run lists by it", async () => {
    const { serverId, site, made } = await deployed(6);
    // The dry run without keep: the site's own retention (14): nothing beyond it.
    expect((await e.api.deployments.prunable({ siteId: site.id }))[0]).toMatchObject({ keep: 14, releases: [] });

    const started = await e.api.sites.prune({ id: site.id, keep: 2 });
    const ops = await e.db.operation.findMany({ where: { serverId, resourceId: site.id, action: "prune" } });
    expect(ops.map((o) => [o.id, o.kind, o.state, o.title])).toEqual([
      [started.operationId, "site.prune", "queued", `Prune ${site.domain} (keep 2 releases)`],
    ]);
    const after = await e.db.site.findUniqueOrThrow({ where: { id: site.id } });
    expect([after.keepReleases, after.status]).toEqual([2, "updating"]);
    // What it will delete, by the saved setting: 6 and 5 kept (6 live, 5 the rollback target); 4…1 go.
    const listed = await e.api.deployments.prunable({ siteId: site.id });
    expect(listed.map((s) => [s.keep, s.releases.map((r) => r.id)])).toEqual([
      [
        2,
        made
          .slice(0, 4)
          .reverse()
          .map((d) => d.id),
      ],
    ]);
    // Nothing is deleted by queueing it: the rows keep their paths until the operation succeeds.
    expect(await e.db.deployment.count({ where: { siteId: site.id, status: "success", releasePath: null } })).toBe(0);

    // Busy (its prune is queued): a second one is refused, and its keep does not land.
    expect(await refusal(e.api.sites.prune({ id: site.id, keep: 5 }))).toMatchObject({ code: "CONFLICT" });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).keepReleases).toBe(2);
    expect(await e.db.operation.count({ where: { resourceId: site.id, action: "prune" } })).toBe(1);
  });

  it("without keep uses the site's setting; a bad keep is refused on its field and nothing is queued", async () => {
    const { serverId, site } = await deployed(3);
    for (const keep of [0, 101, 2.5]) {
      expect(await refusal(e.api.sites.prune({ id: site.id, keep }))).toMatchObject({
        code: "BAD_REQUEST",
        fieldErrors: { keep: "Releases to keep must be a whole number from 1 to 100" },
      });
    }
    // The same rule in the settings form's field.
    expect(await refusal(e.api.sites.update({ id: site.id, keepReleases: 0 }))).toMatchObject({
      code: "BAD_REQUEST",
      fieldErrors: { keepReleases: "Releases to keep must be a whole number from 1 to 100" },
    });
    expect(await e.db.operation.count({ where: { serverId, resourceId: site.id, action: { in: ["prune", "update"] } } })).toBe(0);
    const started = await e.api.sites.prune({ id: site.id });
    expect(await e.db.operation.findUniqueOrThrow({ where: { id: started.operationId } })).toMatchObject({
      title: `Prune ${site.domain} (keep 14 releases)`,
    });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).keepReleases).toBe(14);
  });

  it("the settings save keepReleases (the form's text too); a new site starts with 14", async () => {
    const serverId = await webServer("keep-settings");
    const site = await newSite(serverId, { repository: REPO });
    expect(site.keepReleases).toBe(14);
    await installed(site.id);
    await e.api.sites.update({ id: site.id, keepReleases: 30 });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).keepReleases).toBe(30);
    const typed = await e.api.sites.create({
      serverId,
      domain: "typed.example.com",
      phpVersion: "8.2",
      keepReleases: "5" as unknown as number,
    });
    expect(typed.keepReleases).toBe(5);
  });
});

describe("settings, removal and commands", () => {
  it("update changes only the fields given, checks the PHP version, and queues the site's update", async () => {
    const serverId = await webServer("settings");
    const site = await newSite(serverId, { repository: REPO });
    await installed(site.id);
    const before = await e.db.site.findUniqueOrThrow({ where: { id: site.id } });
    expect(await refusal(e.api.sites.update({ id: site.id, phpVersion: "8.4" }))).toMatchObject({
      fieldErrors: { phpVersion: "PHP 8.4 is not installed on this server (installed: 8.2)" },
    });
    const op = await e.api.sites.update({ id: site.id, aliases: ["www.example.org"], healthCheckPath: "/up" });
    const after = await e.db.site.findUniqueOrThrow({ where: { id: site.id } });
    expect(after).toMatchObject({ aliases: ["www.example.org"], healthCheckPath: "/up", status: "updating" });
    expect([after.deployScript, after.sharedPaths, after.branch, after.repository]).toEqual([
      before.deployScript,
      before.sharedPaths,
      before.branch,
      before.repository,
    ]);
    expect(await e.db.operation.findUniqueOrThrow({ where: { id: op.operationId } })).toMatchObject({ kind: "site.update" });
    // Busy: refused, and nothing of the request lands.
    expect(await refusal(e.api.sites.update({ id: site.id, branch: "develop" }))).toMatchObject({ code: "CONFLICT" });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).branch).toBe("main");
  });

  it("remove needs the domain typed; then it is queued and the deployments stay", async () => {
    const serverId = await webServer("remove");
    const site = await newSite(serverId, { repository: REPO });
    await installed(site.id);
    expect(await refusal(e.api.sites.remove({ id: site.id, confirmDomain: "something-else.example.com" }))).toMatchObject({
      code: "BAD_REQUEST",
      fieldErrors: { confirmDomain: `Type ${site.domain} to confirm removing this site` },
    });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).status).toBe("active");
    const op = await e.api.sites.remove({ id: site.id, confirmDomain: site.domain });
    expect(await e.db.operation.findUniqueOrThrow({ where: { id: op.operationId } })).toMatchObject({
      kind: "site.remove",
      state: "queued",
    });
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).status).toBe("removing");
    // A deploy of a site on its way out is refused.
    expect(await refusal(e.api.sites.deploy({ id: site.id }))).toMatchObject({ code: "CONFLICT" });
  });

  it("commands run only once there is a release; history is newest first and a re-run is a new entry", async () => {
    const serverId = await webServer("commands");
    const site = await newSite(serverId, { repository: REPO });
    expect(await refusal(e.api.siteCommands.run({ siteId: site.id, command: "php artisan about" }))).toMatchObject({
      code: "PRECONDITION_FAILED",
      message: "Deploy the site first: commands run in its current release",
    });
    await e.db.deployment.update({ where: { id: site.firstDeploy!.deploymentId }, data: { status: "success" } });
    await e.db.site.update({ where: { id: site.id }, data: { status: "active", activeDeploymentId: site.firstDeploy!.deploymentId } });
    const first = await e.api.siteCommands.run({ siteId: site.id, command: "php artisan about", timeoutSeconds: 30 });
    const again = await e.api.siteCommands.rerun({ id: first.id });
    expect(again.id).not.toBe(first.id);
    const history = await e.api.siteCommands.list({ siteId: site.id });
    expect(history.map((c) => [c.id, c.command, c.timeoutSeconds, c.status])).toEqual([
      [again.id, "php artisan about", 30, "pending"],
      [first.id, "php artisan about", 30, "pending"],
    ]);
    expect(await e.db.operation.count({ where: { serverId, kind: "site_command.install" } })).toBe(2);
  });
});

describe("the deploy hook", () => {
  const post = (path: string, body = "", headers: Record<string, string> = {}) =>
    fetch(`${web.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  const hookPath = async (siteId: string) => new URL((await e.api.sites.byId({ id: siteId })).deployHookUrl).pathname;
  const push = (branch: string) => JSON.stringify({ ref: `refs/heads/${branch}`, after: "0".repeat(40) });
  const sign = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

  it("a wrong token is 404; the right one starts a deploy triggered by the hook (no session, no Origin needed)", async () => {
    const serverId = await webServer("hook");
    const site = await newSite(serverId);
    const path = await hookPath(site.id);
    expect((await post(`/hooks/deploy/${"x".repeat(43)}`)).status).toBe(404);
    expect((await post("/hooks/deploy/short")).status).toBe(404);
    // No repository yet: refused with the reason.
    const noRepo = await post(path);
    expect([noRepo.status, await noRepo.json()]).toEqual([
      409,
      { error: "This site has no repository to deploy: set one in the site's settings first" },
    ]);

    await e.db.site.update({ where: { id: site.id }, data: { repository: REPO, status: "active" } });
    const res = await post(path, "", { origin: "https://evil.example" });
    expect(res.status).toBe(200);
    const { deploymentId, collapsed } = (await res.json()) as { deploymentId: string; collapsed: boolean };
    expect(collapsed).toBe(false);
    expect(await e.db.deployment.findUniqueOrThrow({ where: { id: deploymentId } })).toMatchObject({
      siteId: site.id,
      trigger: "hook",
      userId: null,
      status: "pending",
    });
    // The operation is the owner's (it shows on their server's list).
    expect((await e.db.operation.findFirstOrThrow({ where: { resourceId: deploymentId } })).userId).toBe(e.userId);
    expect(await (await post(path)).json()).toEqual({ deploymentId, collapsed: true });

    // A new token: the old URL stops working at once.
    const { deployHookUrl } = await e.api.sites.regenerateDeployToken({ id: site.id });
    expect((await post(path)).status).toBe(404);
    expect((await post(new URL(deployHookUrl).pathname)).status).toBe(200);
  });

  it("with a webhook secret: a bad or missing signature is 401, GitHub's HMAC or GitLab's token deploy, another branch is ignored", async () => {
    const serverId = await webServer("hook-signed");
    const site = await newSite(serverId, { repository: REPO });
    await e.db.deployment.deleteMany({ where: { siteId: site.id } }); // the first deploy's row: start from none
    await installed(site.id);
    const secret = "a-webhook-secret-of-some-length";
    expect(await e.api.sites.setWebhookSecret({ id: site.id, secret })).toEqual({ id: site.id, hasWebhookSecret: true });
    expect(JSON.stringify(await e.api.sites.byId({ id: site.id }))).not.toContain(secret);
    const path = await hookPath(site.id);
    const body = push("main");

    expect((await post(path, body)).status).toBe(401);
    expect((await post(path, body, { "x-hub-signature-256": sign("another-secret-entirely", body) })).status).toBe(401);
    // Signed, then the body changed on the way.
    expect((await post(path, push("main2"), { "x-hub-signature-256": sign(secret, body) })).status).toBe(401);
    expect((await post(path, body, { "x-gitlab-token": "wrong" })).status).toBe(401);
    expect(await e.db.deployment.count({ where: { siteId: site.id } })).toBe(0);

    const other = push("feature/x");
    const ignored = await post(path, other, { "x-hub-signature-256": sign(secret, other) });
    expect([ignored.status, await ignored.json()]).toEqual([202, { ignored: "ignored: pushed feature/x, site deploys main" }]);
    expect(await e.db.deployment.count({ where: { siteId: site.id } })).toBe(0);

    const github = await post(path, body, { "x-hub-signature-256": sign(secret, body) });
    expect(github.status).toBe(200);
    const { deploymentId } = (await github.json()) as { deploymentId: string };
    expect((await e.db.deployment.findUniqueOrThrow({ where: { id: deploymentId } })).trigger).toBe("hook");
    const gitlab = await post(path, body, { "x-gitlab-token": secret });
    expect([gitlab.status, await gitlab.json()]).toEqual([200, { deploymentId, collapsed: true }]);

    // Cleared: the token alone deploys again.
    await e.api.sites.setWebhookSecret({ id: site.id, secret: null });
    expect((await post(path, body)).status).toBe(200);
  });

  it("refuses a body over 1 MB", async () => {
    const serverId = await webServer("hook-big");
    const site = await newSite(serverId, { repository: REPO });
    const res = await post(await hookPath(site.id), JSON.stringify({ ref: "refs/heads/main", pad: "x".repeat(1_100_000) }));
    expect(res.status).toBe(413);
  });
});

describe("the ops CLI", () => {
  function cli(args: string[], token: string): Promise<{ code: number; stdout: string; stderr: string }> {
    // Only what a user's shell would pass: no database URL, no secrets.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      BROKEFORGE_URL: web.url,
      BROKEFORGE_TOKEN: token,
    };
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/ops.ts", ...args],
        { env: env as NodeJS.ProcessEnv, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it("deployments:prune --dry-run lists what retention would delete and deletes nothing; without it queues a prune; deploy --site-id queues a cli deploy", async () => {
    const serverId = await webServer("cli");
    const site = await newSite(serverId, { repository: REPO });
    await e.db.deployment.deleteMany({ where: { siteId: site.id } });
    await installed(site.id);
    // Five successful releases on disk, the live one the oldest (after a rollback), one failed.
    const made = [];
    for (let i = 1; i <= 5; i++) {
      const release = `20261201-10000${i}`;
      made.push(
        await e.db.deployment.create({
          data: {
            serverId,
            siteId: site.id,
            domain: site.domain,
            release,
            branch: "main",
            status: "success",
            releasePath: `/home/brokeforge/deployments/${site.domain}/${release}`,
            createdAt: new Date(Date.UTC(2026, 11, 1, 10, 0, i)),
          },
        }),
      );
    }
    await e.db.deployment.create({
      data: { serverId, siteId: site.id, domain: site.domain, release: "20261201-100010", branch: "main", status: "failed" },
    });
    await e.db.site.update({ where: { id: site.id }, data: { activeDeploymentId: made[0]!.id } });
    const { token } = await e.api.tokens.create({ name: "cli" });

    const dry = await cli(["deployments:prune", "--keep=2", "--dry-run", `--site-id=${site.id}`, "--json"], token);
    expect(dry.stderr).toBe("");
    expect(dry.code).toBe(0);
    const listed = JSON.parse(dry.stdout) as { dryRun: boolean; sites: Array<{ domain: string; releases: Array<{ release: string }> }> };
    // Newest two stay (5, 4); the live one (1) stays; 3 and 2 would go.
    expect(listed.dryRun).toBe(true);
    expect(listed.sites.map((s) => [s.domain, s.releases.map((r) => r.release)])).toEqual([
      [site.domain, ["20261201-100003", "20261201-100002"]],
    ]);
    const text = await cli(["deployments:prune", "--keep=2", "--dry-run", `--site-id=${site.id}`], token);
    expect(text.stdout).toContain("dry run: nothing was deleted (2 release(s) would go)");
    expect(await e.db.deployment.count({ where: { siteId: site.id, releasePath: null, status: "success" } })).toBe(0);
    const opsBefore = await e.db.operation.count({ where: { serverId } });
    expect((await cli(["deployments:prune", "--keep=0", "--dry-run"], token)).code).toBe(2);
    expect((await cli(["deployments:prune", "--keep=101"], token)).code).toBe(2);
    expect(await e.db.operation.count({ where: { serverId } })).toBe(opsBefore);

    // The real run: one prune queued for the site, its operation printed; --keep saved as the
    // site's retention. Nothing is deleted before the operation runs (no worker here).
    const real = await cli(["deployments:prune", "--keep=2", `--site-id=${site.id}`, "--json"], token);
    expect([real.code, real.stderr]).toEqual([0, ""]);
    const queued = JSON.parse(real.stdout) as { dryRun: boolean; sites: Array<{ domain: string; keep: number; operationId: string }> };
    const op = await e.db.operation.findFirstOrThrow({ where: { serverId, resourceId: site.id, action: "prune" } });
    expect(queued).toMatchObject({ dryRun: false, sites: [{ domain: site.domain, keep: 2, operationId: op.id }] });
    expect(op.state).toBe("queued");
    expect((await e.db.site.findUniqueOrThrow({ where: { id: site.id } })).keepReleases).toBe(2);
    expect(await e.db.deployment.count({ where: { siteId: site.id, releasePath: null, status: "success" } })).toBe(0);
    // Again while it is queued: the site is busy, said so, exit 1, nothing more queued.
    const again = await cli(["deployments:prune", `--site-id=${site.id}`], token);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`${site.domain}  2     2         not queued: Can't prune while it is updating (only when active)`);
    expect(await e.db.operation.count({ where: { serverId, action: "prune" } })).toBe(1);
    await e.db.site.update({ where: { id: site.id }, data: { status: "active" } });

    const deployed = await cli(["deploy", `--site-id=${site.id}`, "--json"], token);
    expect(deployed.code).toBe(0);
    const { deploymentId, collapsed } = JSON.parse(deployed.stdout) as { deploymentId: string; collapsed: boolean };
    expect(collapsed).toBe(false);
    expect((await e.db.deployment.findUniqueOrThrow({ where: { id: deploymentId } })).trigger).toBe("cli");
  });
});
