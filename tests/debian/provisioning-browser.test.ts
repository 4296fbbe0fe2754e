// Provisioning watched in a real browser on a real Debian 13 server: a user signs up, adds the
// server through the form as a **web** server with PHP 8.4, pastes the shown authorize command
// on the server, runs the connection test from the page — which starts the provisioning — and
// watches its steps go by live on the overview (step label and % change without any reload)
// until "Provisioned". Then the server itself says PHP 8.4 runs and nginx answers.
//
// The web app serves the real Remix build (tests/setup/build.ts, the debian tier's global
// setup) and the engine's in-process worker runs the operations.
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestWeb } from "../setup/app";
import { launchChromium } from "../setup/browser";
import { startEngine, type Engine } from "../setup/engine";
import { bootDebian, type DebianServer } from "./harness";

/** The whole web role on a fresh Debian 13 (apt through the shared cache; Node + npm alone are ~300 packages). */
const PROVISION_TIMEOUT_MS = 600_000;

let e: Engine;
let server: DebianServer;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // The Remix build is the debian project's global setup (vitest.config.ts); the web app needs
  // the engine's env first.
  [[e, web], server] = await Promise.all([
    (async () => {
      const engine = await startEngine();
      return [engine, await startTestWeb()] as const;
    })(),
    bootDebian({ label: "prov-browser", suite: "trixie" }),
  ]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
}, 15 * 60_000);

afterAll(async () => {
  await browser?.close();
  await web?.close();
  await server?.stop();
  await e?.stop();
});

/** Types `text` into root's login shell on the server, as a human pasting it would. */
async function pasteAsRoot(text: string): Promise<void> {
  const file = `paste-${randomBytes(4).toString("hex")}`;
  writeFileSync(path.join(server.rootDir, "root", file), `${text}\n`, { mode: 0o600 });
  try {
    await server.sh(`su - root </root/${file}`);
  } finally {
    rmSync(path.join(server.rootDir, "root", file), { force: true });
  }
}

/** What the overview showed of the provisioning, recorded in the page itself as it changed. */
interface Seen {
  steps: string[];
  percents: number[];
}

/**
 * Records every step text and % the overview shows, from inside the page (a MutationObserver),
 * so a full reload — which would throw the record away — cannot go unnoticed.
 */
function recordProgress(p: Page): Promise<void> {
  return p.evaluate(() => {
    const seen: Seen = { steps: [], percents: [] };
    (window as unknown as { seen: Seen }).seen = seen;
    const look = () => {
      const step = document.querySelector('[data-testid="provisioning-step"]')?.textContent?.trim();
      if (step && seen.steps.at(-1) !== step) seen.steps.push(step);
      const pct = document.querySelector('[data-testid="provisioning-progress"]')?.getAttribute("data-percent");
      if (pct !== null && pct !== undefined && seen.percents.at(-1) !== Number(pct)) seen.percents.push(Number(pct));
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    look();
  });
}

/** Each step of the provisioning's latest operation with its duration (where the time went). */
async function logMilestones(): Promise<void> {
  const op = await e.db.operation.findFirst({
    where: { resourceType: "provisioning" },
    orderBy: { createdAt: "desc" },
    include: { milestones: { orderBy: { step: "asc" } } },
  });
  const lines = (op?.milestones ?? []).map(
    (m) =>
      `${m.step}/${m.total} ${m.name} ${m.state} x${m.attempts} ${m.finishedAt ? ((m.finishedAt.getTime() - m.startedAt.getTime()) / 1000).toFixed(1) : "?"} s`,
  );
  console.log(`[provisioning-browser] operation ${op?.state ?? "none"}:\n${lines.join("\n")}`);
}

describe("provisioning a Debian 13 server as a web server, watched in the browser", () => {
  it("adds the server with role web and PHP 8.4 through the form", async () => {
    await page.goto(`${web.url}/signup`);
    await page.getByLabel("Email").fill(`prov-${randomBytes(3).toString("hex")}@example.com`);
    await page.getByLabel("Password").fill("a long enough password");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${web.url}/`);

    await page.getByRole("link", { name: "Add server" }).click();
    await page.getByLabel("Name").fill("web-trixie");
    await page.getByLabel("Host or IP address").fill(server.host);
    await page.getByLabel("SSH port").fill(String(server.sshPort));
    // App is Forge's default; the PHP field is there for it and stays for web, the database goes.
    expect(await page.getByRole("radio", { name: /App server/ }).isChecked()).toBe(true);
    expect(await page.getByText("MariaDB (Debian's MySQL-compatible server)").count()).toBe(1);
    await page.getByRole("radio", { name: /Web server/ }).check();
    expect(await page.getByText("MariaDB (Debian's MySQL-compatible server)").count()).toBe(0);
    // A mistake first: shown on the field, the choices kept.
    await page.getByLabel("PHP version").fill("eight");
    await page.getByRole("button", { name: "Add server" }).click();
    await page.getByText("Use a PHP version like 8.2").waitFor();
    expect(await page.getByRole("radio", { name: /Web server/ }).isChecked()).toBe(true);
    await page.getByLabel("PHP version").fill("8.4");
    await page.getByRole("button", { name: "Add server" }).click();
    await page.waitForURL(/\/servers\/[^/]+$/);
    await page.getByRole("heading", { name: "web-trixie" }).waitFor();

    expect(await page.getByTestId("provisioning-role").textContent()).toBe("Web server (PHP 8.4)");
    expect(await page.getByTestId("provisioning").getAttribute("data-status")).toBe("pending");
  });

  it(
    "shows the provisioning's steps live after the connection test, until Provisioned",
    { timeout: PROVISION_TIMEOUT_MS + 120_000 },
    async () => {
      // The test tree ships with empty apt lists, as some minimal images do: the connection test
      // sees no PHP offered, and the release's own PHP is the one allowed (php.ts phpVersionFor).
      // The user pastes the command the page shows into root's shell on the server.
      await pasteAsRoot(await page.getByTestId("authorize-command").inputValue());
      await page.getByRole("button", { name: "Test connection" }).click();
      await page.locator('[data-testid="connection-status"][data-status="connected"]').waitFor({ timeout: 60_000 });
      // The connection test's redirect is behind us: from here on the page must not load again.
      await recordProgress(page);

      await page
        .locator('[data-testid="provisioning"][data-status="active"]')
        .waitFor({ timeout: PROVISION_TIMEOUT_MS })
        .finally(() => logMilestones());
      const seen = await page.evaluate(() => (window as unknown as { seen?: Seen }).seen);
      expect(seen, "the page was reloaded while provisioning ran").toBeDefined();
      const steps = seen!.steps.filter((s) => s.startsWith("Step "));
      console.log(`[provisioning-browser] steps seen: ${JSON.stringify(steps)}; percents: ${JSON.stringify(seen!.percents)}`);
      expect(steps.length).toBeGreaterThanOrEqual(4);
      expect(new Set(steps.map((s) => s.replace(/^Step \d+ of \d+ — /, ""))).size).toBeGreaterThanOrEqual(4);
      for (const s of steps) expect(s).toMatch(/^Step \d+ of \d+ — \S/);
      // The bar only goes forward, and it went somewhere.
      expect(seen!.percents).toEqual([...seen!.percents].sort((a, b) => a - b));
      expect(seen!.percents.at(-1)! - seen!.percents[0]!).toBeGreaterThanOrEqual(25);
      expect(await page.getByTestId("provisioning-done").textContent()).toMatch(/^Provisioned /);
      await page.screenshot({ path: "tests/e2e/last-provisioning-run.png", fullPage: true });

      // The dashboard says the same.
      await page.goto(`${web.url}/`);
      const row = page.getByTestId("server-web-trixie");
      await row.locator('[data-testid="provisioning"][data-status="active"]').waitFor();
      expect(await row.getByTestId("server-provisioning").textContent()).toContain("Web server (PHP 8.4)");
    },
  );

  it("left PHP 8.4 with its FPM running and nginx answering on the server", async () => {
    expect(await server.sh("php -v")).toMatch(/^PHP 8\.4\./);
    expect((await server.sh("systemctl is-active php8.4-fpm nginx")).split("\n").filter(Boolean)).toEqual(["active", "active"]);
    // nginx listens on 80 and its catch-all closes an unknown host without an answer (444):
    // curl's "empty reply" (52), not "connection refused" (7).
    expect(await server.sh("ss -Hltnp 'sport = :80'")).toContain("nginx");
    const r = await server.exec("curl -sS -H 'Host: unknown.example' http://127.0.0.1/");
    expect(r.exitCode).toBe(52);
    expect(r.stderr).toContain("Empty reply from server");
  });
});
