// Every server route and settings page a person uses, driven in a real browser (Debian chromium
// via playwright-core) against the real web server, an in-process worker and Temporal: edit a
// server, reset its pinned host key, delete it; install and remove a package; add, pause,
// resume and remove a scheduled task; add, restart and remove a supervisor program; cancel a
// queued and a running operation; create an API token (shown once) and revoke it. Each test
// signs up its own user and adds its own server through the pages.
//
// The servers are the in-process SSH test peer (tests/fixtures/ssh-peer), never the real
// OpenSSH sshd fixture: these plans run apt-get, ufw, crontab and supervisorctl as root, and on
// sshd they would run on this machine. The peer really executes every command, each server in
// a mount namespace of its own with stub tools first on PATH, so what the page shows comes
// from what really happened on that server (and the test reads the server to check it). The
// faults are real too: a stub call held, failing or hanging until the test says otherwise.
import { arch, availableParallelism } from "node:os";
import { TRPCClientError, createTRPCClient, httpLink } from "@trpc/client";
import { type Browser, type Page } from "playwright-core";
import { launchChromium } from "../setup/browser";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../trpc/router";
import { startSshPeer, type SshPeer } from "../fixtures/ssh-peer";
import { STUB_STATE_DIR, stubFault } from "../fixtures/stub-tools";
import { startTestWeb } from "../setup/app";
import { startEngine, type Engine } from "../setup/engine";

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let browser: Browser;
const extraPeers: SshPeer[] = [];

beforeAll(async () => {
  e = await startEngine();
  web = await startTestWeb();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await Promise.all(extraPeers.map((p) => p.stop()));
  await e?.stop();
});

/** A fresh browser session of a newly signed-up user; confirm() dialogs are accepted and kept. */
async function newUser(name: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.accept();
  });
  await page.goto(`${web.url}/signup`);
  await page.getByLabel("Email").fill(`${name}-${Date.now()}@example.com`);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${web.url}/`);
  return { page, dialogs };
}

/**
 * Adds a server through the form, then does what the user does on the server: authorize the
 * shown key (on the peer, which gives the server its own fake machine). Returns its id.
 */
async function addServer(page: Page, name: string, peer: SshPeer = e.peer): Promise<string> {
  await page.goto(`${web.url}/servers/new`);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Host or IP address").fill(peer.host);
  await page.getByLabel("SSH port").fill(String(peer.port));
  // The pages under test, not a provisioning (its own test: tests/debian/provisioning-browser.test.ts).
  await page.getByRole("radio", { name: /Don't provision now/ }).check();
  await page.getByRole("button", { name: "Add server" }).click();
  await page
    .waitForURL((url) => /^\/servers\/[^/]+$/.test(url.pathname) && url.pathname !== "/servers/new")
    .catch(async (err: unknown) => {
      const alerts = await page.getByRole("alert").allTextContents();
      throw new Error(`adding ${name} did not open its page (${page.url()}); the form says: ${alerts.join(" | ") || "nothing"}`, {
        cause: err,
      });
    });
  const id = new URL(page.url()).pathname.split("/")[2]!;
  peer.authorize(await page.locator("#pub-root").inputValue(), id);
  return id;
}

/** The packages a provisioned server has (as tests/setup/engine.ts's addServer records them). */
async function markInstalled(serverId: string, types: string[]) {
  const { packageDefinition } = await import("../../catalogue");
  for (const type of types) {
    await e.db.serverPackage.create({ data: { serverId, type, name: packageDefinition(type)!.name, status: "active" } });
  }
}

async function otherPeer(): Promise<SshPeer> {
  const peer = await startSshPeer();
  extraPeers.push(peer);
  return peer;
}

const connection = (page: Page, status: string) =>
  page.locator(`[data-testid="connection-status"][data-status="${status}"]`).first().waitFor({ timeout: 30_000 });
const fingerprint = (page: Page) => page.getByTestId("host-key-fingerprint");
const row = (page: Page, testId: string) => page.getByTestId(testId);
/**
 * Waits until the row shows `status`. When it does not, the failure says what the row shows
 * instead and where the server's operations are (a row stuck in a transient status is
 * otherwise just a timeout).
 */
async function rowStatus(page: Page, testId: string, status: string) {
  try {
    await page.locator(`[data-testid="${testId}"][data-status="${status}"]`).waitFor({ timeout: 30_000 });
  } catch (err) {
    const shown = await row(page, testId)
      .getAttribute("data-status", { timeout: 1000 })
      .catch(() => "no such row");
    const serverId = new URL(page.url()).pathname.split("/")[2] ?? "";
    const ops = await e.db.operation.findMany({ where: { serverId }, orderBy: { createdAt: "asc" } });
    const lines = ops.map((o) => `  ${o.title}: ${o.state}${o.errorLog ? ` (${o.errorLog})` : ""}`).join("\n");
    throw new Error(`${testId}: expected ${status}, the page shows ${shown}; the server's operations:\n${lines}`, { cause: err });
  }
}
const operation = (page: Page, text: string) => page.getByTestId("operation").filter({ hasText: text });
const operationState = (page: Page, text: string, state: string) =>
  page.locator(`[data-testid="operation"][data-state="${state}"]`).filter({ hasText: text }).waitFor({ timeout: 30_000 });

async function testConnection(page: Page, expected: "connected" | "failed") {
  await page.getByRole("button", { name: "Test connection" }).click();
  await connection(page, expected);
}

describe("a server's own pages", () => {
  it("overview: a connection test shows what the server is; a Debian it does not support gets a warning naming what is", async () => {
    const { page } = await newUser("facts");
    const id = await addServer(page, "facts-1");
    await testConnection(page, "connected");
    // The fake server is a namespace of this machine (Debian 12): its hardware is this one's.
    const facts = page.getByTestId("server-facts");
    await facts.waitFor();
    expect(await page.getByTestId("fact-os").textContent()).toBe("Debian 12 (bookworm)");
    expect(await page.getByTestId("fact-cpus").textContent()).toBe(String(availableParallelism()));
    expect(await page.getByTestId("fact-arch").textContent()).toBe(arch() === "x64" ? "x86_64" : "aarch64");
    expect(await page.getByTestId("fact-memory").textContent()).toMatch(/^\d+(\.\d)? GB$/);
    expect(await page.getByTestId("fact-disk").textContent()).toMatch(/^\d+(\.\d)? GB, \d+(\.\d)? GB free$/);
    expect(await page.getByTestId("fact-swap").textContent()).toMatch(/^(No|Yes \(\d+(\.\d)? [MG]B\))$/);
    expect(await page.getByTestId("os-unsupported").count()).toBe(0);

    // The same server reinstalled with Debian 11: the next test says BrokeForge does not support it.
    (await e.peer.server(id)).write("/etc/os-release", 'NAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\nID=debian\n');
    await page.getByRole("button", { name: "Test connection" }).click();
    await expect
      .poll(
        () =>
          page
            .getByTestId("os-unsupported")
            .textContent()
            .catch(() => null),
        { timeout: 30_000 },
      )
      .toBe("This server runs Debian 11, which BrokeForge does not support. Supported: Debian 12 and 13, Ubuntu 22.04 and 24.04.");
    expect(await page.getByTestId("fact-os").textContent()).toBe("Debian GNU/Linux 11");
  });

  it("edit: a bad port is refused next to the field with the values kept; moving the server forgets the pinned key, the next test pins the new one", async () => {
    const { page } = await newUser("edit");
    const id = await addServer(page, "db-1");
    await testConnection(page, "connected");
    await expect.poll(() => fingerprint(page).textContent()).toContain(e.peer.hostKeyFingerprint);
    // The machine will move to another address (another peer, another host key); the user
    // authorizes the same shown key there.
    const moved = await otherPeer();
    moved.authorize(await page.locator("#pub-root").inputValue(), id);

    await page.getByRole("link", { name: "Edit" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/edit`);
    await page.getByRole("heading", { name: "Edit db-1" }).waitFor();
    expect(await page.getByLabel("SSH port").inputValue()).toBe(String(e.peer.port));
    await page.getByLabel("Name").fill("db-primary");
    await page.getByLabel("SSH port").fill("0");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Port must be between 1 and 65535").waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe("db-primary");
    expect(page.url()).toBe(`${web.url}/servers/${id}/edit`);

    await page.getByLabel("SSH port").fill(String(moved.port));
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(`${web.url}/servers/${id}`);
    await page.getByRole("heading", { name: "db-primary" }).waitFor();
    await page.getByText(`root@127.0.0.1:${moved.port}`).waitFor();
    await connection(page, "unknown");
    expect(await fingerprint(page).textContent()).toBe("Not pinned yet: pinned on the first successful connection.");

    await testConnection(page, "connected");
    await expect.poll(() => fingerprint(page).textContent()).toContain(moved.hostKeyFingerprint);
    expect(moved.connectionsFor(id).length).toBeGreaterThan(0);
  });

  it("reset host key: a rebuilt server is refused until the user resets the pin, then the next test pins the new key", async () => {
    const { page, dialogs } = await newUser("rekey");
    const peer = await otherPeer();
    await addServer(page, "rebuilt", peer);
    await testConnection(page, "connected");
    const pinned = peer.hostKeyFingerprint;
    await expect.poll(() => fingerprint(page).textContent()).toContain(pinned);

    const rotated = peer.rotateHostKey(); // the user reinstalled the machine
    await testConnection(page, "failed");
    await page.getByTestId("connection-error").getByText(`changed: expected ${pinned}, got ${rotated}`).waitFor();
    expect(await fingerprint(page).textContent()).toContain(pinned);

    await page.getByRole("button", { name: "Reset pinned host key" }).click();
    await page.getByText("Not pinned yet: pinned on the first successful connection.").waitFor();
    expect(dialogs).toEqual(["Forget the pinned host key? Only do this if you rebuilt the server."]);
    await connection(page, "unknown");
    expect(await page.getByTestId("connection-error").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Reset pinned host key" }).count()).toBe(0);

    await testConnection(page, "connected");
    await expect.poll(() => fingerprint(page).textContent()).toContain(rotated);
    expect(await fingerprint(page).textContent()).not.toContain(pinned);
  });

  it("delete: after the confirm the user lands on the list, which no longer has the server (the other one stays)", async () => {
    const { page, dialogs } = await newUser("delete");
    await addServer(page, "keep-me");
    const id = await addServer(page, "doomed");
    await page.getByRole("button", { name: "Delete" }).click();
    await page.waitForURL(`${web.url}/`);
    expect(dialogs).toEqual(["Delete doomed? Its keys are deleted too."]);
    const list = page.getByRole("list", { name: "Servers" });
    await list.getByText("keep-me").waitFor();
    expect(await list.getByText("doomed").count()).toBe(0);
    expect((await page.goto(`${web.url}/servers/${id}`))?.status()).toBe(404);
    expect(await e.db.serverCredential.count({ where: { serverId: id } })).toBe(0);
  });

  it("packages: Install shows installing then active with the version, live; Remove takes it away and offers Install again", async () => {
    const { page, dialogs } = await newUser("packages");
    const id = await addServer(page, "pkg-host");
    const server = await e.peer.server(id);
    server.write(`${STUB_STATE_DIR}/versions/ufw`, "0.36.2-1"); // what dpkg-query reports once installed
    // apt-get waits on the server until the test has seen the package installing.
    const aptInstall = server.hold("apt-get", "ufw");
    await page.getByRole("link", { name: "Packages" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/packages`);
    const offer = page.getByRole("list", { name: "Packages" }).getByRole("listitem").filter({ hasText: "Firewall (ufw)" });
    await offer.getByRole("button", { name: "Install" }).click();

    await aptInstall.held();
    await rowStatus(page, "package-firewall", "installing");
    aptInstall.open();
    await rowStatus(page, "package-firewall", "active");
    await row(page, "package-firewall").getByText("ufw 0.36.2-1").waitFor();
    expect(await offer.getByRole("button", { name: "Install" }).count()).toBe(0);
    expect(server.exists(`${STUB_STATE_DIR}/dpkg/ufw`)).toBe(true);
    expect(server.stubState("ufw-state")?.trim()).toBe("active");

    // Remove asks first, on the page, saying what the removal does (the plan's own words).
    await row(page, "package-firewall").getByRole("button", { name: "Remove" }).click();
    const confirmation = row(page, "package-firewall").getByRole("group", { name: "Confirm removal" });
    expect(await confirmation.getByTestId("removal-plan").textContent()).toBe(
      "Removing ufw: Disabling ufw; Finishing any interrupted dpkg run; Purging ufw",
    );
    await confirmation.getByRole("button", { name: "Yes, remove" }).click();
    await row(page, "package-firewall").waitFor({ state: "detached", timeout: 30_000 });
    expect(dialogs).toEqual([]);
    await offer.getByRole("button", { name: "Install" }).waitFor();
    expect(server.exists(`${STUB_STATE_DIR}/dpkg/ufw`)).toBe(false);
  });

  it("packages: a failed install shows the server's error, and Retry installs it", async () => {
    const { page } = await newUser("packages-retry");
    const id = await addServer(page, "pkg-retry");
    const server = await e.peer.server(id);
    // The server's apt cannot find cron (every try), until the user fixes its sources.
    const name = "no-cron";
    server.fault(
      "apt-get",
      name,
      stubFault.fail({ tool: "apt-get", name, match: "cron", exitCode: 100, stderr: "E: Unable to locate package cron\n" }),
    );
    await page.goto(`${web.url}/servers/${id}/packages`);
    const packages = page.getByRole("list", { name: "Packages" });
    await packages.getByRole("listitem").filter({ hasText: "Scheduler (cron)" }).getByRole("button", { name: "Install" }).click();
    await rowStatus(page, "package-scheduler", "failed");
    await row(page, "package-scheduler").getByTestId("error-log").getByText("E: Unable to locate package cron").waitFor();
    expect(server.exists(`${STUB_STATE_DIR}/dpkg/cron`)).toBe(false);

    server.unfault("apt-get", name);
    await row(page, "package-scheduler").getByRole("button", { name: "Retry" }).click();
    await rowStatus(page, "package-scheduler", "active");
    expect(await row(page, "package-scheduler").getByTestId("error-log").count()).toBe(0);
    expect(server.exists(`${STUB_STATE_DIR}/dpkg/cron`)).toBe(true);
  });

  it("packages: every catalogue package in order; PHP per version with the offered ones; a secret shown on Reveal only; the deploy key; a removal still needed is refused", async () => {
    const { page, dialogs } = await newUser("packages-page");
    const id = await addServer(page, "pkg-page");
    // What a provisioned server has (the fake server cannot really install PHP or Redis): rows,
    // the versions of PHP its apt offered, and the Redis password the install generated.
    const deployKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrokeForgeDeployKeyForTheE2eTestOnly0000 brokeforge@pkg-page";
    await e.db.server.update({ where: { id }, data: { variantOffers: { php: ["8.4", "8.2"] } } });
    const rows = [
      { type: "site_user", name: "brokeforge", configuration: { home: "/home/brokeforge", deployKey } },
      { type: "php", name: "php8.2", variant: "8.2", version: "8.2.26-1" },
      { type: "composer", name: "composer", version: "2.5.5-1" },
      { type: "redis", name: "redis-server", version: "5:7.0.15-1" },
    ];
    for (const r of rows) await e.db.serverPackage.create({ data: { serverId: id, status: "active", ...r } });
    const { ensureSecrets } = await import("../../core/secrets");
    const { "redis.password": password } = await ensureSecrets(id, ["redis.password"]);

    await page.goto(`${web.url}/servers/${id}/packages`);
    const { PACKAGES } = await import("../../catalogue");
    const entries = page.getByRole("list", { name: "Packages" }).locator(":scope > li");
    await entries.first().waitFor();
    expect(await entries.evaluateAll((lis) => lis.map((li) => li.getAttribute("data-testid")))).toEqual(
      PACKAGES.map((p) => `catalogue-${p.type}`),
    );
    expect(await page.locator('[data-installed="yes"]').evaluateAll((lis) => lis.map((li) => li.getAttribute("data-testid")))).toEqual(
      PACKAGES.filter((p) => rows.some((r) => r.type === p.type)).map((p) => `catalogue-${p.type}`),
    );

    // PHP: the installed version is a line of its own; the other version apt offers can be added.
    await row(page, "package-php-8.2").getByText("php8.2 8.2.26-1").waitFor();
    expect(await page.getByLabel("PHP version").locator("option").allTextContents()).toEqual(["8.4 (newest offered)"]);
    expect(await row(page, "package-php-8.2").getByTestId("required-by").textContent()).toBe("Needed by Composer (composer).");

    // The password is on the page only after Reveal, and gone again after a reload.
    const secret = page.getByTestId("secret-redis.password");
    expect(await page.content()).not.toContain(password);
    await secret.getByRole("button", { name: "Reveal" }).click();
    await expect.poll(() => secret.getByLabel("redis.password").inputValue()).toBe(password);
    await secret.getByRole("button", { name: "Copy" }).waitFor();
    await page.reload();
    await secret.getByRole("button", { name: "Reveal" }).waitFor();
    expect(await page.content()).not.toContain(password);

    // The site user's deploy key, to give to the git host.
    expect(await row(page, "package-site_user").getByLabel("Deploy key").inputValue()).toBe(deployKey);
    await row(page, "package-site_user").getByText("Add this as a deploy key to your git host").waitFor();

    // Removing PHP 8.2 while Composer needs it: the confirmation says so, and the server refuses.
    await row(page, "package-php-8.2").getByRole("button", { name: "Remove" }).click();
    const confirmation = row(page, "package-php-8.2").getByRole("group", { name: "Confirm removal" });
    await confirmation.getByText("Remove PHP 8.2 from the server?").waitFor();
    expect(await confirmation.getByTestId("removal-plan").textContent()).toContain("Removing PHP 8.2: Deleting BrokeForge's PHP files");
    expect(await confirmation.getByTestId("removal-required-by").textContent()).toBe(
      "Composer (composer) still needs it: the removal is refused until that is removed.",
    );
    const operations = await e.db.operation.count({ where: { serverId: id } });
    await confirmation.getByRole("button", { name: "Yes, remove" }).click();
    await row(page, "package-php-8.2")
      .getByRole("alert")
      .getByText("Can't remove PHP (php8.2): Composer (composer) still needs it. Remove it first.")
      .waitFor();
    expect(await page.locator('[data-testid="package-php-8.2"]').getAttribute("data-status")).toBe("active");
    expect(await e.db.operation.count({ where: { serverId: id } })).toBe(operations);
    expect(dialogs).toEqual([]);
  });

  it("scheduler: a bad cron expression is explained; a good task goes active live, pauses, resumes and is removed", async () => {
    const { page } = await newUser("scheduler");
    const id = await addServer(page, "cron-host");
    await markInstalled(id, ["scheduler"]);
    const server = await e.peer.server(id);
    // The stub crontab keeps root's crontab where cron's spool is.
    const crontab = () => server.read("/var/spool/cron/crontabs/root") ?? "";
    await page.getByRole("link", { name: "Scheduler" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/scheduler`);
    await page.getByText("No scheduled tasks").waitFor();

    await page.getByLabel("Name").fill("backup");
    await page.getByLabel("Command").fill("/usr/local/bin/backup --quiet");
    await page.getByLabel("Frequency").selectOption({ label: "Custom cron expression" });
    await page.getByLabel("Cron expression").fill("61 * * * *");
    await page.getByRole("button", { name: "Add task" }).click();
    await page
      .getByRole("alert")
      .filter({ hasText: /^Minute: / })
      .waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe("backup");
    expect(await e.db.scheduledTask.count({ where: { serverId: id } })).toBe(0);

    await page.getByLabel("Cron expression").fill("*/15 * * * *");
    await page.getByRole("button", { name: "Add task" }).click();
    await rowStatus(page, "task-backup", "active");
    await row(page, "task-backup").getByText("*/15 * * * *").waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe(""); // the form is cleared for the next one
    expect(crontab()).toMatch(/^\*\/15 \* \* \* \* /m);

    await row(page, "task-backup").getByRole("button", { name: "Pause" }).click();
    await rowStatus(page, "task-backup", "paused");
    expect(crontab()).not.toMatch(/^\*\/15 /m);
    await row(page, "task-backup").getByRole("button", { name: "Resume" }).click();
    await rowStatus(page, "task-backup", "active");
    expect(crontab()).toMatch(/^\*\/15 \* \* \* \* /m);
    await row(page, "task-backup").getByRole("button", { name: "Remove" }).click();
    await page.getByText("No scheduled tasks").waitFor({ timeout: 30_000 });
    expect(crontab()).not.toMatch(/^\*\/15 /m);
  });

  it("supervisor: a bad process count is explained; a missing directory fails with the reason, Retry after creating it goes active; restart; remove", async () => {
    const { page } = await newUser("supervisor");
    const id = await addServer(page, "worker-host");
    await markInstalled(id, ["supervisor"]);
    const server = await e.peer.server(id);
    await page.getByRole("link", { name: "Supervisor" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/supervisor`);
    await page.getByText("No supervisor programs").waitFor();

    await page.getByLabel("Name").fill("queue");
    await page.getByLabel("Command").fill("php artisan queue:work");
    await page.getByLabel("Directory").fill("/srv/app");
    await page.getByLabel("Processes").fill("0");
    await page.getByRole("button", { name: "Add program" }).click();
    await page.getByText("Run between 1 and 20 processes").waitFor();
    expect(await e.db.supervisorProgram.count({ where: { serverId: id } })).toBe(0);

    await page.getByLabel("Processes").fill("2");
    await page.getByRole("button", { name: "Add program" }).click();
    // The app is not deployed yet: /srv/app does not exist on the server.
    await rowStatus(page, "program-queue", "failed");
    await row(page, "program-queue").getByTestId("error-log").getByText("The directory /srv/app does not exist on the server").waitFor();

    server.write("/srv/app/artisan", "");
    await row(page, "program-queue").getByRole("button", { name: "Retry" }).click();
    await rowStatus(page, "program-queue", "active");
    await row(page, "program-queue").getByText("in /srv/app as root").waitFor();
    const confs = server.list("/etc/supervisor/conf.d");
    expect(confs).toHaveLength(1);
    expect(server.read(`/etc/supervisor/conf.d/${confs[0]}`)).toMatch(/^numprocs=2$/m);

    const restarts = () => server.calls("supervisorctl").filter((c) => c[1] === "restart").length;
    expect(restarts()).toBe(0);
    await row(page, "program-queue").getByRole("button", { name: "Restart" }).click();
    // Restart is an operation of its own; the row is active again when it is done.
    await untilOperation(id, "restart", "succeeded");
    await rowStatus(page, "program-queue", "active");
    expect(restarts()).toBe(1);

    await row(page, "program-queue").getByRole("button", { name: "Remove" }).click();
    await page.getByText("No supervisor programs").waitFor({ timeout: 30_000 });
    expect(server.list("/etc/supervisor/conf.d")).toEqual([]);
  });

  it("activity: Cancel on a queued operation shows it cancelled while the one ahead still runs; Cancel on the running one stops its command", async () => {
    const { page } = await newUser("cancel");
    const id = await addServer(page, "busy-host");
    await markInstalled(id, ["firewall"]);
    const server = await e.peer.server(id);
    // ufw never finishes the first rule by itself (only a signal ends it): its operation stays
    // running, and the second rule's stays queued behind it.
    const stuck = server.hang("ufw", " port 7001 ");
    await page.getByRole("link", { name: "Firewall" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/firewall`);
    for (const [name, port] of [
      ["stuck", "7001"],
      ["waiting", "7002"],
    ] as const) {
      await page.getByLabel("Name").fill(name);
      await page.getByLabel("Port or range").fill(port);
      await page.getByRole("button", { name: "Add rule" }).click();
      await row(page, `rule-${name}`).waitFor();
    }
    await stuck.held();
    await rowStatus(page, "rule-stuck", "installing");

    await page.getByRole("link", { name: "Activity" }).click();
    await page.waitForURL(`${web.url}/servers/${id}/activity`);
    await operationState(page, "“waiting”", "queued");
    await operationState(page, "“stuck”", "running");

    await operation(page, "“waiting”").getByRole("button", { name: "Cancel" }).click();
    await operationState(page, "“waiting”", "cancelled");
    expect(await operation(page, "“waiting”").getByTestId("status").textContent()).toContain("Cancelled");
    expect(await operation(page, "“waiting”").getByRole("button", { name: "Cancel" }).count()).toBe(0);
    expect(await operation(page, "“stuck”").getAttribute("data-state")).toBe("running");
    expect(stuck.stopped()).toBeNull();

    await operation(page, "“stuck”").getByRole("button", { name: "Cancel" }).click();
    await operationState(page, "“stuck”", "cancelled");
    expect(await operation(page, "“stuck”").getByTestId("status").textContent()).toContain("Cancelled");
    expect(stuck.stopped()).not.toBeNull(); // the command on the server was stopped, not left running
    expect(await page.getByRole("alert").count()).toBe(0);

    // On the firewall tab: the queued rule is gone (it never reached the server); the stopped one failed.
    await page.getByRole("link", { name: "Firewall" }).click();
    await rowStatus(page, "rule-stuck", "failed");
    await row(page, "rule-stuck")
      .getByTestId("error-log")
      .getByText(/Cancelled/)
      .waitFor();
    expect(await row(page, "rule-waiting").count()).toBe(0);
    expect(server.calls("ufw").some((c) => c.includes("7002"))).toBe(false);
  });
});

/** Waits for the newest `action` operation of the server to reach `state` (what the Activity tab lists). */
async function untilOperation(serverId: string, action: string, state: string) {
  await expect
    .poll(async () => (await e.db.operation.findFirst({ where: { serverId, action }, orderBy: { createdAt: "desc" } }))?.state, {
      timeout: 30_000,
    })
    .toBe(state);
}

describe("API tokens page", () => {
  it("refuses an empty name; shows a new token once, which works on the API until Revoke, then is refused", async () => {
    const { page } = await newUser("tokens");
    await page.getByRole("link", { name: "API tokens" }).click();
    await page.waitForURL(`${web.url}/settings/tokens`);
    await page.getByText("No tokens yet.").waitFor();

    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByText("Name is required").waitFor();
    expect(await page.getByTestId("new-token").count()).toBe(0);

    await page.getByLabel("Token name").fill("deploy-bot");
    await page.getByRole("button", { name: "Create token" }).click();
    await page.getByRole("status").getByText("Token “deploy-bot” created. Copy it now: it is not shown again.").waitFor();
    const token = await page.getByTestId("new-token").inputValue();
    expect(token.length).toBeGreaterThanOrEqual(32);
    const listed = page.getByRole("list", { name: "API tokens" }).getByRole("listitem").filter({ hasText: "deploy-bot" });
    await listed.getByText("never used").waitFor();

    const api = bearer(token);
    const email = await api.auth.whoami.query().then((w) => w.email);
    expect(email).toMatch(/^tokens-\d+@example\.com$/);

    // Shown once: a reload of the page no longer has it anywhere.
    await page.reload();
    await listed.waitFor();
    expect(await page.getByTestId("new-token").count()).toBe(0);
    expect(await page.content()).not.toContain(token);
    await listed.getByText(/^last used /).waitFor();

    await listed.getByRole("button", { name: "Revoke" }).click();
    await listed.getByText("revoked", { exact: true }).waitFor();
    expect(await listed.getByRole("button", { name: "Revoke" }).count()).toBe(0);
    const refused = await api.auth.whoami.query().then(
      () => null,
      (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : String(err)),
    );
    expect(refused).toBe("UNAUTHORIZED");
  });
});

function bearer(token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${web.url}/trpc`, headers: () => ({ authorization: `Bearer ${token}` }), transformer: superjson })],
  });
}
