// The sites pages in a real browser (Debian chromium via playwright-core) against the real web
// server, an in-process worker and Temporal, the servers being the SSH test peer's fake servers:
// create a site (a bad domain refused on its field, by the form and by the server), the site in
// the server's list and on the dashboard, its page with the deploy hook URL and the .env only
// after "Edit .env", saving the .env; the Roll back buttons on exactly the rollback candidates
// (deployment rows written straight to the database, the page following them live); removal
// only with the domain typed; the history's "Older deployments" pages and commit links to
// GitHub. (A real deploy in a browser runs against a Debian container in
// the debian tier; the peer's stub tools cannot build a release.)
import { type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestWeb } from "../setup/app";
import { launchChromium } from "../setup/browser";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  e = await startEngine();
  web = await startTestWeb();
  browser = await launchChromium();
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await web?.close();
  await e?.stop();
});

/**
 * A signed-up user of the test's own with a server on the peer that has what a web server has
 * for sites (nginx, the site user, PHP 8.2 recorded as installed), and their own API caller.
 */
async function userWithWebServer(label: string) {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on("dialog", (d) => void d.accept());
  const email = `${label}-${Math.random().toString(36).slice(2)}@example.com`;
  await page.goto(`${web.url}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${web.url}/`);
  const user = await e.db.user.findUniqueOrThrow({ where: { email } });
  const server = await e.addServer(label, { packages: ["nginx", "site_user"] });
  await e.db.serverPackage.create({ data: { serverId: server.id, type: "php", name: "php8.2", variant: "8.2", status: "active" } });
  await e.db.server.update({ where: { id: server.id }, data: { userId: user.id } });
  const { createCaller } = await import("../../trpc/router");
  const api = createCaller({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
  return { page, serverId: server.id, api };
}

const live = (page: Page) => page.locator('[data-testid="live-indicator"][data-status="live"]').first().waitFor();
const fieldError = (page: Page, name: string) => page.locator(`#field-${name}-error`);

/** Waits for the site's own install to end (on the peer it fails: no php-fpm there), so later actions are allowed. */
const settled = (siteId: string) =>
  eventually(async () => {
    const site = await e.db.site.findUniqueOrThrow({ where: { id: siteId } });
    return site.status === "active" || site.status === "failed" ? site : null;
  }, 60_000);

describe("sites in the browser", () => {
  it(
    "create: a bad domain is refused on its field (by the form and by the server); the site is listed on its server and the dashboard; its page shows the hook URL, and the .env only after Edit .env",
    { timeout: 120_000 },
    async () => {
      const { page, serverId } = await userWithWebServer("site-create");
      await page.goto(`${web.url}/servers/${serverId}`);
      await page.getByRole("link", { name: "Sites", exact: true }).click();
      await page.waitForURL(`${web.url}/servers/${serverId}/sites`);
      await live(page);
      await page.getByText("No sites").waitFor();
      // The PHP versions offered are the server's installed ones.
      expect(await page.getByLabel("PHP version").locator("option").allTextContents()).toEqual(["PHP 8.2"]);
      expect(await page.getByLabel("Deploy script").inputValue()).toContain("composer install");

      await page.getByLabel("Domain").fill("bad domain;");
      await page.getByRole("button", { name: "Create site" }).click();
      await fieldError(page, "domain").waitFor();
      expect(await fieldError(page, "domain").textContent()).toContain("Enter a domain like example.com");
      expect(await e.db.site.count({ where: { serverId } })).toBe(0);

      await page.getByLabel("Domain").fill("shop.example.com");
      await page.getByLabel("Aliases").fill("www.shop.example.com, shop2.example.com");
      await page.getByLabel("Repository").fill("git@github.com:acme/shop.git");
      await page.getByLabel("Health check path").fill("/up");
      await page.getByRole("button", { name: "Create site" }).click();
      const row = page.getByTestId("site-shop.example.com");
      await row.waitFor();
      const site = await e.db.site.findFirstOrThrow({ where: { serverId, domain: "shop.example.com" } });
      expect(site).toMatchObject({
        aliases: ["www.shop.example.com", "shop2.example.com"],
        phpVersion: "8.2",
        webDirectory: "public",
        repository: "git@github.com:acme/shop.git",
        branch: "main",
        sharedPaths: ["storage", ".env"],
        healthCheckPath: "/up",
      });
      await expect.poll(() => page.getByLabel("Domain").inputValue()).toBe(""); // the form is ready for the next one

      // The same domain again: the server refuses it, on the domain field.
      await page.getByLabel("Domain").fill("shop.example.com");
      await page.getByRole("button", { name: "Create site" }).click();
      await expect.poll(() => fieldError(page, "domain").textContent()).toBe("shop.example.com is already a site on this server");
      expect(await e.db.site.count({ where: { serverId } })).toBe(1);

      await page.goto(`${web.url}/`);
      const onDashboard = page.getByRole("list", { name: "Sites" }).getByTestId("site-shop.example.com");
      await onDashboard.waitFor();
      expect(await onDashboard.getByTestId("site-server").textContent()).toBe("site-create");
      expect(await onDashboard.getByTestId("last-deploy").textContent()).toBe("Never deployed");

      await onDashboard.getByRole("link").click();
      await page.waitForURL(`${web.url}/sites/${site.id}`);
      await page.getByRole("heading", { name: "shop.example.com" }).waitFor();
      // (Its origin is the app's PUBLIC_URL, which this test's web server does not set.)
      expect(await page.getByTestId("deploy-hook-url").inputValue()).toMatch(/^http:\/\/[^/]+\/hooks\/deploy\/[A-Za-z0-9_-]{43}$/);

      // The .env is fetched only when asked for: not in the page before "Edit .env". (Saving while
      // the site's install still runs is fine: the save stands and the next update writes it.)
      const secret = "APP_KEY=base64:s3cr3t-value-from-the-editor";
      expect(await page.locator("#site-env").count()).toBe(0);
      await page.getByRole("button", { name: "Edit .env" }).click();
      await page.locator("#site-env").waitFor();
      expect(await page.locator("#site-env").inputValue()).toBe("");
      await page.locator("#site-env").fill(`${secret}\nAPP_ENV=production\n`);
      await page.getByRole("button", { name: "Save .env" }).click();
      await page.getByTestId("env-saved").waitFor();
      expect(await page.locator("#site-env").count()).toBe(0);

      await page.reload();
      await page.getByRole("heading", { name: "shop.example.com" }).waitFor();
      expect(await page.content()).not.toContain("s3cr3t-value");
      expect(await page.locator("#site-env").count()).toBe(0);
      await page.getByRole("button", { name: "Edit .env" }).click();
      await page.locator("#site-env").waitFor();
      expect(await page.locator("#site-env").inputValue()).toBe(`${secret}\nAPP_ENV=production\n`);
    },
  );

  it(
    "deployments: Roll back is offered on exactly the successful releases still on disk that are not live, and the list follows new deployments live",
    { timeout: 120_000 },
    async () => {
      const { page, serverId, api } = await userWithWebServer("site-rollback");
      const created = await api.sites.create({ serverId, domain: "blog.example.com", phpVersion: "8.2" });
      await settled(created.id);
      const at = (minutes: number) => new Date(Date.UTC(2026, 11, 3, 12, minutes));
      const deployment = (release: string, minutes: number, data: Record<string, unknown>) =>
        e.db.deployment.create({
          data: {
            serverId,
            siteId: created.id,
            domain: "blog.example.com",
            release,
            releasePath: `/home/brokeforge/deployments/blog.example.com/${release}`,
            branch: "main",
            status: "success",
            createdAt: at(minutes),
            startedAt: at(minutes),
            finishedAt: new Date(at(minutes).getTime() + 42_000),
            durationMs: 42_000,
            ...data,
          },
        });
      const older = await deployment("20261203-120100", 1, {
        commitSha: "1111111aaaaaaabbbbbbbcccccccddddddd00001",
        commitMessage: "First",
      });
      const pruned = await deployment("20261203-120200", 2, { releasePath: null, commitSha: "2222222aaaaaaabbbbbbbcccccccddddddd00002" });
      const rolledBack = await deployment("20261203-120300", 3, { status: "failed", rolledBack: true, errorLog: "health check: 500" });
      const failed = await deployment("20261203-120400", 4, { status: "failed", releasePath: null, errorLog: "composer install failed" });
      const active = await deployment("20261203-120500", 5, {
        commitSha: "5555555aaaaaaabbbbbbbcccccccddddddd00005",
        commitMessage: "Live one",
      });
      await e.db.site.update({ where: { id: created.id }, data: { activeDeploymentId: active.id, lastDeployedAt: active.finishedAt } });

      await page.goto(`${web.url}/sites/${created.id}`);
      await live(page);
      const item = (d: { release: string }) => page.getByTestId(`deployment-${d.release}`);
      await item(active).waitFor();
      expect(await page.getByTestId("active-deployment").textContent()).toContain("20261203-120500");
      expect(await page.getByTestId("active-deployment").textContent()).toContain("5555555");
      expect(await page.getByTestId("active-deployment").textContent()).toContain("Live one");
      const rollbackButtons = async () => {
        const out: string[] = [];
        for (const d of [older, pruned, rolledBack, failed, active]) {
          if ((await item(d).getByRole("button", { name: "Roll back" }).count()) > 0) out.push(d.release);
        }
        return out;
      };
      expect(await rollbackButtons()).toEqual([older.release]);
      expect(await page.getByRole("button", { name: "Roll back" }).count()).toBe(1);
      expect(await item(rolledBack).getByTestId("deployment-status").textContent()).toBe("↶Failed (rolled back)");
      expect(await item(failed).getByTestId("deployment-status").textContent()).toBe("✕Failed");
      expect(await item(older).textContent()).toContain("1111111");
      expect(await item(older).textContent()).toContain("42.0 s");

      // The newest deployment's log is shown; another's on "Log". (Its operation and output rows
      // written here as the engine writes them.)
      const op = await e.db.operation.create({
        data: {
          serverId,
          kind: "deployment.install",
          title: "Deploy",
          resourceType: "deployment",
          resourceId: older.id,
          action: "install",
          state: "succeeded",
        },
      });
      const lines = ["Cloning main", "Running: composer install", "Swapped to 20261203-120100"];
      await e.db.operationOutput.createMany({
        data: lines.map((text, i) => ({ operationId: op.id, step: 1, stream: "stdout", line: i + 1, text })),
      });
      expect(await page.getByTestId("deployment-log").textContent()).toContain("20261203-120500");
      await item(older).getByRole("button", { name: "Log" }).click();
      const log = page.getByTestId("deployment-log");
      await log.locator('[data-testid="log-viewer"][data-lines="3"]').waitFor();
      for (const text of lines) await log.getByText(text).waitFor();

      // A new deploy queued (as another tab or the hook would): the page shows it deploying, live.
      expect(await page.getByRole("button", { name: "Deploy", exact: true }).isEnabled()).toBe(false); // no repository
      const queued = await deployment("20261203-120600", 6, {
        status: "pending",
        releasePath: null,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
      });
      await item(queued).waitFor();
      expect(await item(queued).getByTestId("deployment-status").textContent()).toBe("Deploying");
      await page.getByRole("button", { name: "Deploying" }).waitFor();
      // It succeeds and becomes live: the previous live release becomes a candidate, the new one is not.
      await e.db.deployment.update({
        where: { id: queued.id },
        data: { status: "success", releasePath: "/home/brokeforge/deployments/blog.example.com/20261203-120600", finishedAt: at(7) },
      });
      await e.db.site.update({ where: { id: created.id }, data: { activeDeploymentId: queued.id } });
      await item(active).getByRole("button", { name: "Roll back" }).waitFor();
      await expect.poll(() => page.getByRole("button", { name: "Roll back" }).count()).toBe(2);
      expect(await item(queued).getByRole("button", { name: "Roll back" }).count()).toBe(0);
      expect(await page.getByTestId("active-deployment").textContent()).toContain("20261203-120600");

      // On a phone the page still fits its width: nothing to scroll sideways.
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.goto(`${web.url}/servers/${serverId}/sites`);
      await page.getByTestId("site-blog.example.com").waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    },
  );

  it(
    "history: the newest 50 deployments, then Older deployments shows the rest; shas link to their commit on GitHub; the deploy script's help names its variables",
    { timeout: 120_000 },
    async () => {
      const { page, serverId, api } = await userWithWebServer("site-older");
      await page.goto(`${web.url}/servers/${serverId}/sites`);
      const help = page.getByTestId("deploy-script-help");
      await help.waitFor();
      for (const text of ["brokeforge", "its own step", "BROKEFORGE_RELEASE_PATH", "BROKEFORGE_COMMIT", "script in the repository"]) {
        expect(await help.textContent()).toContain(text);
      }
      const created = await api.sites.create({ serverId, domain: "old-history.example.com", phpVersion: "8.2" });
      await settled(created.id);
      await e.db.site.update({ where: { id: created.id }, data: { repository: "git@github.com:acme/history.git" } });
      const sha = (i: number) => i.toString(16).padStart(40, "a");
      await e.db.deployment.createMany({
        data: Array.from({ length: 55 }, (_, i) => ({
          serverId,
          siteId: created.id,
          domain: "old-history.example.com",
          release: `20261101-1${String(i).padStart(5, "0")}`,
          branch: "main",
          status: "failed" as const,
          commitSha: sha(i),
          createdAt: new Date(Date.UTC(2026, 10, 1, 10, i)),
        })),
      });
      await page.goto(`${web.url}/sites/${created.id}`);
      await live(page);
      const rows = page.locator('[aria-label="Deployment history"] > li[data-testid^="deployment-2"]');
      await expect.poll(() => rows.count()).toBe(50);
      expect(await page.getByTestId("deployment-20261101-100054").count()).toBe(1); // the newest
      expect(await page.getByTestId("deployment-20261101-100004").count()).toBe(0);
      const link = page.getByTestId("deployment-20261101-100054").getByTestId("commit-link");
      expect(await link.getAttribute("href")).toBe(`https://github.com/acme/history/commit/${sha(54)}`);
      expect(await link.textContent()).toBe(sha(54).slice(0, 7));

      await page.getByRole("button", { name: "Older deployments" }).click();
      await page.getByTestId("deployment-20261101-100000").waitFor();
      expect(await rows.count()).toBe(55);
      expect(await page.getByRole("button", { name: "Older deployments" }).count()).toBe(0);
      // An older one's log can be opened like any other.
      await page.getByTestId("deployment-20261101-100002").getByRole("button", { name: "Log" }).click();
      await expect.poll(() => page.getByTestId("deployment-log").locator("p").first().textContent()).toBe("Log of 20261101-100002");
    },
  );

  it(
    "remove: the button stays disabled until the domain is typed; then the site's removal starts and the page goes back to the list",
    { timeout: 120_000 },
    async () => {
      const { page, serverId, api } = await userWithWebServer("site-remove");
      const created = await api.sites.create({ serverId, domain: "old.example.com", phpVersion: "8.2" });
      await settled(created.id);
      await page.goto(`${web.url}/sites/${created.id}`);
      await live(page);
      const remove = page.getByRole("button", { name: "Remove site" });
      expect(await remove.isDisabled()).toBe(true);
      await page.getByLabel("Type old.example.com to confirm").fill("old.example.co");
      expect(await remove.isDisabled()).toBe(true);
      expect(await e.db.operation.count({ where: { resourceId: created.id, action: "remove" } })).toBe(0);
      await page.getByLabel("Type old.example.com to confirm").fill("old.example.com");
      await remove.click();
      await page.waitForURL(`${web.url}/servers/${serverId}/sites`);
      await eventually(async () => (await e.db.operation.count({ where: { resourceId: created.id, action: "remove" } })) === 1);
    },
  );
  it(
    "commands: a command running (started elsewhere: the CLI, another tab) shows its output live in the history, then its result; a deployment shows its log file's path",
    { timeout: 120_000 },
    async () => {
      const { page, serverId, api } = await userWithWebServer("site-command-live");
      const { writeLines } = await import("../../activities/output");
      const site = await settled((await api.sites.create({ serverId, domain: "cmd.example.com", phpVersion: "8.2" })).id);
      const command = await e.db.siteCommand.create({
        data: { serverId, siteId: site.id, command: "php artisan migrate", timeoutSeconds: 60, status: "installing" },
      });
      // Its operation and first line, as the engine writes them (writeLines also NOTIFYs readers).
      const op = await e.db.operation.create({
        data: {
          serverId,
          kind: "site_command.install",
          title: "Run",
          resourceType: "site_command",
          resourceId: command.id,
          action: "install",
          state: "running",
        },
      });
      const line = (n: number, text: string) => ({ operationId: op.id, step: 1, run: 1, stream: "stdout" as const, line: n, text });
      await writeLines(op.id, serverId, [line(1, "Migrating: 2026_01_01_create_users")]);

      await page.goto(`${web.url}/sites/${site.id}`);
      const item = page.getByTestId("site-command").first();
      await item.locator('[data-testid="log-viewer"][data-lines="1"]').waitFor();
      await item.getByText("Migrating: 2026_01_01_create_users").waitFor();
      // A line printed now reaches the open page.
      await writeLines(op.id, serverId, [line(2, "Migrated: 2026_01_01_create_users")]);
      await item.locator('[data-testid="log-viewer"][data-lines="2"]').waitFor();

      // It ends: the history shows its result instead of the live log.
      await e.db.operation.update({ where: { id: op.id }, data: { state: "succeeded", finishedAt: new Date() } });
      await e.db.siteCommand.update({
        where: { id: command.id },
        data: { status: "success", exitCode: 0, durationMs: 1200, stdout: "Migrated: 2026_01_01_create_users" },
      });
      await item.locator("pre", { hasText: "Migrated: 2026_01_01_create_users" }).waitFor();
      await expect.poll(() => item.getByTestId("log-viewer").count()).toBe(0);

      // The deployment's log names its file on the server.
      await e.db.deployment.create({
        data: {
          serverId,
          siteId: site.id,
          domain: "cmd.example.com",
          release: "20261203-130000",
          releasePath: "/home/brokeforge/deployments/cmd.example.com/20261203-130000",
          branch: "main",
          status: "failed",
        },
      });
      await page.getByTestId("deployment-log").getByText("/home/brokeforge/deployments/cmd.example.com/logs/20261203-130000.log").waitFor();
    },
  );
});
