// A person's first session in a real browser (Debian chromium via playwright-core): sign up,
// add a server pointing at a real OpenSSH sshd, authorize its key, test the connection.
import { type Browser, type Page } from "playwright-core";
import { launchChromium } from "../setup/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSshd, type RunningSshd } from "../fixtures/sshd";
import { setupTestEnv, startTestWeb, startTestWorker, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let sshd: RunningSshd;
let browser: Browser;

beforeAll(async () => {
  env = await setupTestEnv();
  [web, worker, sshd] = await Promise.all([startTestWeb(), startTestWorker(), startSshd()]);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([web?.close(), worker?.stop(), sshd?.stop()]);
  if (env) await teardownTestEnv(env);
});

async function signUp(page: Page, email: string) {
  await page.goto(`${web.url}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${web.url}/`);
}

describe("first session in a browser", () => {
  it("signs up, adds a server, authorizes its key, and sees it connected with the pinned fingerprint", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // phone width
    await signUp(page, "first@example.com");
    await page.getByText("No servers yet").waitFor();

    await page.getByRole("link", { name: "Add server" }).click();
    // A mistake first: the form keeps the values and says what is wrong, next to the field.
    await page.getByLabel("Name").fill("web-1");
    await page.getByLabel("Host or IP address").fill("not a host");
    await page.getByLabel("SSH port").fill("70000");
    await page.getByRole("button", { name: "Add server" }).click();
    await page.getByText("Enter an IP address or a host name").waitFor();
    await page.getByText("Port must be between 1 and 65535").waitFor();
    expect(await page.getByLabel("Name").inputValue()).toBe("web-1");

    await page.getByLabel("Host or IP address").fill("127.0.0.1");
    await page.getByLabel("SSH port").fill(String(sshd.port));
    // This sshd is the test machine itself: connect only, provision nothing.
    await page.getByRole("radio", { name: /Don't provision now/ }).check();
    await page.getByRole("button", { name: "Add server" }).click();
    await page.waitForURL(/\/servers\/[^/]+$/);
    await page.getByRole("heading", { name: "web-1" }).waitFor();
    expect(await page.getByTestId("connection-status").getAttribute("data-status")).toBe("unknown");

    // The user copies the shown command onto the server; here we authorize the shown key.
    const command = await page.getByTestId("authorize-command").inputValue();
    const publicKey = await page.locator("#pub-root").inputValue();
    expect(command).toContain(publicKey);
    expect(publicKey).toMatch(/^ssh-ed25519 AAAA\S+ brokeforge-root@/);
    await sshd.authorize(publicKey);

    await page.getByRole("button", { name: "Test connection" }).click();
    // The result arrives live (change event → refetch); no reload.
    await page.locator('[data-testid="connection-status"][data-status="connected"]').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("host-key-fingerprint").textContent()).toContain(sshd.hostKeyFingerprint);
    expect(await page.getByTestId("os-info").textContent()).toMatch(/kernel \d/);
    expect(await page.content()).not.toContain("PRIVATE KEY");
    await page.screenshot({ path: "tests/e2e/last-run.png", fullPage: true });

    // The dashboard lists it as connected.
    await page.getByRole("link", { name: "← Servers" }).click();
    await page.getByRole("list", { name: "Servers" }).getByText("web-1").waitFor();
    expect(await page.getByTestId("connection-status").getAttribute("data-status")).toBe("connected");

    // A second user sees none of it, and cannot open it by URL.
    const serverUrl = `${web.url}/servers/${(await db()).id}`;
    const other = await browser.newPage();
    await signUp(other, "second@example.com");
    await other.getByText("No servers yet").waitFor();
    expect(await other.getByText("web-1").count()).toBe(0);
    const res = await other.goto(serverUrl);
    expect(res?.status()).toBe(404);
    expect(await other.content()).not.toContain("web-1");
  });
});

async function db() {
  const { db } = await import("../../core/db");
  return db().server.findFirstOrThrow({ where: { name: "web-1" } });
}
