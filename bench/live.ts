// Live-update and page figures, measured against a real web process (web-app.ts: server.ts as a
// child process, production build from a snapshot of the tree) with realistic data (seed.ts):
//   server_list_render_ms / _interactive_ms  the dashboard with SEED.servers servers (list-render.ts)
//   invalidation_p99_ms                       commit → change event on each of 1,000 ws
//                                             subscribers, matched by event id (invalidation.ts)
//   change_to_screen_p99_ms                   commit → DOM of 1 / 100 / 1,000 open pages, real
//                                             chromium pages where they fit, the rest modelled (screen.ts)
// Every load is bounded in count and time; `fits()` says whether the bench's budget has room.
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { measureInvalidation } from "./invalidation";
import { measureListRender } from "./list-render";
import { measureChangeToScreen } from "./screen";
import { SEED, seed } from "./seed";
import { round } from "./stats";
import { startWebApp } from "./web-app";
import { launchChromium } from "../tests/setup/browser";

const INVALIDATION = { clients: 1000, rounds: 30 } as const;

export async function measureLive(
  infra: { pgAdminUrl: string; temporalAddress: string },
  log: (s: string) => void,
  fits: () => boolean = () => true,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const app = await startWebApp(infra);
  let browser: Browser | null = null;
  try {
    log(`  web process up (snapshot copy + production build ${round(app.buildMs / 1000)} s)`);
    let t = Date.now();
    const data = await seed(app.db, app.userId);
    log(
      `  seeded in ${Date.now() - t} ms: ` +
        Object.entries(data.counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
    );
    out.seed = data.counts;

    t = Date.now();
    try {
      browser = await launchChromium();
      log(`  chromium ${browser.version()} up in ${Date.now() - t} ms`);
    } catch (err) {
      log(`  chromium did not start (${String(err instanceof Error ? err.message : err).split("\n")[0]}): browser figures are null`);
    }

    log(`\n  server list: ${SEED.servers} servers, ${data.counts.operationsRunningOrQueued} operations running or queued`);
    Object.assign(out, await measureListRender(app, browser, `web-${SEED.servers}`, log, { renders: 20, loads: 10 }));

    log(`\n  invalidation (socket level)`);
    Object.assign(out, await measureInvalidation(app, data.serverIds[0]!, log, INVALIDATION));

    log(
      `\n  change → screen, page /servers/<id> of ${data.busyServerName} (an operation running, 3 queued, ${SEED.historyPerServer} in its history)`,
    );
    Object.assign(out, await measureChangeToScreen(app, browser, data.busyServerId, log, fits));
    return out;
  } finally {
    await browser?.close().catch(() => {});
    await app.stop();
  }
}

// Run alone: tsx bench/live.ts
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { startInfra } = await import("./harness");
  const infra = await startInfra();
  try {
    const figures = await measureLive(infra, console.log);
    console.log(JSON.stringify(figures));
  } finally {
    await infra.stop();
  }
  process.exit(0);
}
