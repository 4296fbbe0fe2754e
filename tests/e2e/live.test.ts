// Live status in a real browser: a firewall rule goes pending → installing → active in place,
// a failing one shows its error and Retry fixes it, Remove takes it away, the progress bar
// advances, and a restart of the web server mid-operation still ends in the right state.
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestWeb } from "../setup/app";
import { gate, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let browser: Browser;
let page: Page;
let serverId: string;
let navigations = 0;
let browserUserApi: Engine["api"];

beforeAll(async () => {
  e = await startEngine();
  web = await startTestWeb();
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--no-first-run"],
  });
  page = await browser.newPage();
  await page.goto(`${web.url}/signup`);
  await page.getByLabel("Email").fill("live@example.com");
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${web.url}/`);
  // Hand the browser's user a server that points at the SSH test peer.
  const user = await e.db.user.findUniqueOrThrow({ where: { email: "live@example.com" } });
  serverId = (await e.addServer("live-web")).id;
  await e.db.server.update({ where: { id: serverId }, data: { userId: user.id } });
  const { createCaller } = await import("../../trpc/router");
  browserUserApi = createCaller({ principal: { user, via: { kind: "session", sessionId: "x" } }, ip: "127.0.0.1" });
  page.on("framenavigated", (f) => f === page.mainFrame() && navigations++);
});

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await e?.stop();
});

const row = (name: string) => page.getByTestId(`rule-${name}`);
const statusIs = (name: string, status: string) =>
  page.locator(`[data-testid="rule-${name}"][data-status="${status}"]`).waitFor({ timeout: 30_000 });

async function addRule(name: string, port: string) {
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Port or range").fill(port);
  await page.getByRole("button", { name: "Add rule" }).click();
}

describe("live firewall rules in the browser", () => {
  it("shows pending → installing → active in place, without a reload", async () => {
    await page.goto(`${web.url}/servers/${serverId}/firewall`);
    await page.locator('[data-testid="live-indicator"][data-status="live"]').waitFor();
    navigations = 0;
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    const listFetches: string[] = [];
    const onRequest = (r: { url(): string }) => r.url().includes("firewall.list") && listFetches.push(r.url());
    page.on("request", onRequest);
    const hold = gate();
    e.peer.script(async (cmd) => {
      if (cmd.includes("port 443")) await hold.opened;
      return undefined;
    });
    await addRule("https", "443");
    await statusIs("https", "installing"); // pending is visible only for a blink; installing while held
    hold.open();
    await statusIs("https", "active");
    page.off("request", onRequest);
    expect(navigations).toBe(0);
    // Bursts of events are coalesced: far fewer refetches than events for this server.
    const events = await e.db.changeEvent.count({ where: { serverId } });
    expect(events).toBeGreaterThanOrEqual(8);
    expect(listFetches.length).toBeLessThanOrEqual(4);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
  });

  it("shows a failed rule with its error; Retry brings it to active", async () => {
    let fail = true;
    e.peer.script((cmd) => (fail && cmd.includes("port 9999") ? { exitCode: 1, stderr: "ERROR: scripted ufw failure\n" } : undefined));
    await addRule("broken", "9999");
    await statusIs("broken", "failed");
    expect(await row("broken").getByTestId("error-log").textContent()).toContain("ERROR: scripted ufw failure");
    fail = false;
    await row("broken").getByRole("button", { name: "Retry" }).click();
    await statusIs("broken", "active");
    expect(await row("broken").getByTestId("error-log").count()).toBe(0);
  });

  it("Remove: removing → gone", async () => {
    const hold = gate();
    e.peer.script(async (cmd) => {
      if (cmd.includes("delete") && cmd.includes("443")) await hold.opened;
      return undefined;
    });
    page.once("dialog", (d) => void d.accept());
    await row("https").getByRole("button", { name: "Remove" }).click();
    await statusIs("https", "removing");
    hold.open();
    await row("https").waitFor({ state: "detached", timeout: 30_000 });
    expect(navigations).toBe(0);
  });

  it("advances the progress bar through an operation's milestones", async () => {
    await page.getByRole("link", { name: "Activity" }).click();
    const holds = [gate(), gate()];
    e.peer.script(async (cmd) => {
      if (cmd.includes("apt-get") && cmd.includes("update")) await holds[0]!.opened;
      if (cmd === "ufw --force enable") await holds[1]!.opened;
      return undefined;
    });
    await e.db.serverPackage.deleteMany({ where: { serverId, type: "firewall" } }); // the test server came with it
    await browserUserApi.packages.create({ serverId, type: "firewall" }); // as if from another tab
    const progress = page.locator('[data-testid="operation"][data-kind="package.install"] [data-testid="progress"]');
    await page
      .locator('[data-testid="operation"][data-kind="package.install"] [data-testid="progress"][data-step="1"][data-total="2"]')
      .waitFor({ timeout: 30_000 });
    holds[0]!.open();
    await page
      .locator('[data-testid="operation"][data-kind="package.install"] [data-testid="progress"][data-step="2"]')
      .waitFor({ timeout: 30_000 });
    expect(await progress.getByText("step 2 of 2").count()).toBe(1);
    holds[1]!.open();
    await page.locator('[data-testid="operation"][data-kind="package.install"][data-state="succeeded"]').waitFor({ timeout: 30_000 });
  });

  it("ends in the right state when the web server restarts mid-operation", async () => {
    await page.getByRole("link", { name: "Firewall" }).click();
    const hold = gate();
    e.peer.script(async (cmd) => {
      if (cmd.includes("port 5432")) await hold.opened;
      return undefined;
    });
    await addRule("postgres", "5432");
    await statusIs("postgres", "installing");
    const port = Number(new URL(web.url).port);
    await web.close();
    await page.locator('[data-testid="live-indicator"]:not([data-status="live"])').waitFor();
    hold.open();
    await expect.poll(async () => (await e.db.firewallRule.findFirst({ where: { name: "postgres" } }))?.status).toBe("active");
    const { startWebServer } = await import("../../web/server");
    web = await startWebServer({ port });
    await statusIs("postgres", "active");
    await page.locator('[data-testid="live-indicator"][data-status="live"]').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: "tests/e2e/last-live-run.png", fullPage: true });
  });
});
