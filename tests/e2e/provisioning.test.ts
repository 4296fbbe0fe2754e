// Provisioning's other paths on the server overview, in a real browser against the SSH test
// peer's fake servers: a connected server added without a role gets one from the overview's
// Provision form; a step that fails shows where and why, and Retry continues from that step
// (the steps before it are skipped); a server whose OS BrokeForge does not support gets the reason and no Provision
// button. (The whole live run on a real Debian 13: tests/debian/provisioning-browser.test.ts.)
import { type Browser, type BrowserContext } from "playwright-core";
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

/** A signed-up user of the test's own with a bare server on the peer, its connection tested. */
async function userWithConnectedServer(label: string, osRelease?: string) {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const email = `${label}-${Math.random().toString(36).slice(2)}@example.com`;
  await page.goto(`${web.url}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long enough password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.waitForURL(`${web.url}/`);
  const user = await e.db.user.findUniqueOrThrow({ where: { email } });
  // Added and tested by the engine's user, then handed to the browser's user.
  const serverId = (await e.addServer(label, { packages: [] })).id;
  if (osRelease) (await e.peer.server(serverId)).write("/etc/os-release", osRelease);
  await e.api.servers.testConnection({ id: serverId });
  await eventually(async () => (await e.db.server.findUnique({ where: { id: serverId } }))?.connectionStatus === "connected");
  await e.db.server.update({ where: { id: serverId }, data: { userId: user.id } });
  await page.goto(`${web.url}/servers/${serverId}`);
  await page.locator('[data-testid="live-indicator"][data-status="live"]').waitFor();
  return { page, serverId };
}

describe("provisioning on the server overview", () => {
  it(
    "Provision with a role chosen there; a failed step shows where and why, and Retry continues from that step",
    { timeout: 180_000 },
    async () => {
      const { page, serverId } = await userWithConnectedServer("prov-retry");
      expect(await page.getByTestId("provisioning-none").textContent()).toContain("Not provisioned yet");
      await page.getByRole("radio", { name: /Bare server/ }).check();
      expect(await page.getByLabel("PHP version").count()).toBe(0); // a bare server has no PHP
      await page.getByRole("button", { name: "Provision" }).click();

      // The fake server's stub apt installs no files, so fail2ban's step really fails there.
      await page.locator('[data-testid="provisioning"][data-status="failed"]').waitFor({ timeout: 90_000 });
      const failedAt = (await page.getByTestId("provisioning-failed").textContent())!;
      expect(failedAt).toMatch(/^Provisioning failed at step \d+: Protecting SSH with fail2ban$/);
      expect(await page.getByTestId("provisioning-error").textContent()).toContain("fail2ban");
      expect(await page.getByTestId("provisioning-role").textContent()).toBe("Bare server");
      const step = Number(/step (\d+)/.exec(failedAt)![1]);
      expect(step).toBeGreaterThan(1);

      const latest = () =>
        e.db.operation.findFirstOrThrow({
          where: { serverId, resourceType: "provisioning" },
          orderBy: { createdAt: "desc" },
          include: { milestones: { orderBy: { step: "asc" } } },
        });
      await page.getByTestId("provisioning").getByRole("button", { name: "Retry" }).click();
      const retry = await eventually(async () => {
        const op = await latest();
        return op.isRetry && op.state === "failed" ? op : null;
      }, 90_000);
      // The retry began at the failed step: the ones before it were skipped, not run again.
      expect(retry.milestones.filter((m) => m.step < step).map((m) => m.state)).toEqual(Array(step - 1).fill("skipped"));
      expect(retry.milestones.find((m) => m.step === step)?.state).toBe("failed");
      await page.locator('[data-testid="provisioning"][data-status="failed"]').waitFor();
      expect(await page.getByTestId("provisioning-failed").textContent()).toBe(failedAt);

      // The dashboard shows it too, with its Retry.
      await page.goto(`${web.url}/`);
      const row = page.getByTestId("server-prov-retry");
      await row.locator('[data-testid="provisioning"][data-status="failed"]').waitFor();
      expect(await row.getByTestId("provisioning-failed").textContent()).toBe(failedAt);
      expect(await row.getByRole("button", { name: "Retry" }).count()).toBe(1);
    },
  );

  it("an OS BrokeForge does not support: the reason, and no Provision button", async () => {
    const { page } = await userWithConnectedServer(
      "prov-unsupported",
      'NAME="Debian GNU/Linux"\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\nID=debian\n',
    );
    expect(await page.getByTestId("provisioning-unsupported").textContent()).toContain("This server runs Debian 11");
    expect(await page.getByRole("button", { name: "Provision" }).count()).toBe(0);
  });
});
