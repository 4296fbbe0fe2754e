// server_list_render_ms and server_list_interactive_ms: the dashboard (GET /) with the seeded
// servers (seed.ts: operations running/queued on a share of them, resources, history).
//   render       server side: the request → the whole HTML received (loader → tRPC servers.list
//                → React render to string), over HTTP with the session cookie.
//   interactive  in chromium: navigation start → React's hydration commit (the server-rendered
//                list now has its handlers), read from a minimal React DevTools hook that
//                records the first commit; plus → the live subscription open ("Live").
import { performance } from "node:perf_hooks";
import type { Browser } from "playwright-core";
import { median, percentile, round } from "./stats";

/** Records React's first commit (= hydration) and the moment the live indicator says "Live", in page time. */
export const PAGE_PROBE = `(() => {
  const bf = (window.__bf = { hydratedAt: null, liveAt: null, commits: 0 });
  // React (also production builds) reports each commit to a DevTools hook if one exists.
  window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
    supportsFiber: true, isDisabled: false, renderers: new Map(),
    inject() { return 1; },
    onCommitFiberRoot() { bf.commits++; if (bf.hydratedAt === null) bf.hydratedAt = performance.now(); },
    onCommitFiberUnmount() {}, onPostCommitFiberRoot() {}, checkDCE() {},
  };
  let lastH1;
  new MutationObserver(() => {
    if (bf.liveAt === null && document.querySelector('[data-testid="live-indicator"][data-status="live"]')) bf.liveAt = performance.now();
    // For change-to-screen: report each new text of the page's heading, with the wall clock.
    const h1 = document.querySelector("h1");
    const text = h1 ? h1.textContent : null;
    if (text !== lastH1) {
      lastH1 = text;
      if (window.__bfSeen) window.__bfSeen(text, Date.now());
    }
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-status"] });
})();`;

export async function measureListRender(
  app: { base: string; cookie: string },
  browser: Browser | null,
  expectText: string,
  log: (s: string) => void,
  opts: { renders: number; loads: number },
): Promise<Record<string, unknown>> {
  const render = async () => {
    const t = performance.now();
    const res = await fetch(`${app.base}/`, { headers: { cookie: app.cookie } });
    const html = await res.text();
    if (!res.ok || !html.includes(expectText)) throw new Error(`dashboard render failed: ${res.status}`);
    return { ms: performance.now() - t, bytes: html.length };
  };
  for (let i = 0; i < 5; i++) await render(); // warm up (JIT, connection pool)
  const renders: number[] = [];
  let bytes = 0;
  for (let i = 0; i < opts.renders; i++) {
    const r = await render();
    renders.push(r.ms);
    bytes = r.bytes;
  }
  log(
    `  SSR: GET / (loader → tRPC servers.list → React render to string), ${opts.renders} runs after 5 warm-ups, ${round(bytes / 1024)} KiB of HTML`,
  );
  log(`    median ${round(median(renders))} ms, p95 ${round(percentile(renders, 95))} ms`);
  const out: Record<string, unknown> = {
    server_list_render_ms: round(median(renders)),
    server_list_render_p95_ms: round(percentile(renders, 95)),
    server_list_html_kib: round(bytes / 1024),
  };
  if (!browser) return { ...out, server_list_interactive_ms: null };

  const [name, value] = [app.cookie.slice(0, app.cookie.indexOf("=")), app.cookie.slice(app.cookie.indexOf("=") + 1)];
  const context = await browser.newContext();
  try {
    await context.addCookies([{ name, value, url: app.base }]);
    await context.addInitScript(PAGE_PROBE);
    const page = await context.newPage();
    const loads: Array<{ ttfb: number; dcl: number; load: number; hydrated: number; live: number }> = [];
    for (let i = 0; i < opts.loads + 2; i++) {
      await page.goto(`${app.base}/`, { waitUntil: "load", timeout: 60_000 });
      await page.waitForFunction("__bf.hydratedAt !== null && __bf.liveAt !== null", null, { timeout: 60_000, polling: 20 });
      // A string: this runs in the page (DOM types), not in this Node process.
      const t = await page.evaluate<{ ttfb: number; dcl: number; load: number; hydrated: number; live: number }>(`(() => {
        const n = performance.getEntriesByType("navigation")[0];
        return { ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, hydrated: __bf.hydratedAt, live: __bf.liveAt };
      })()`);
      if (i >= 2) loads.push(t); // the first two: cold caches, JIT
    }
    const med = (k: keyof (typeof loads)[number]) => round(median(loads.map((l) => l[k])));
    const p95 = (k: keyof (typeof loads)[number]) =>
      round(
        percentile(
          loads.map((l) => l[k]),
          95,
        ),
      );
    log(`  chromium, ${opts.loads} loads of / after 2 warm-ups (navigation start = 0; median): first byte ${med("ttfb")} ms,`);
    log(`    DOMContentLoaded ${med("dcl")} ms, load ${med("load")} ms, hydrated (React's first commit) ${med("hydrated")} ms`);
    log(`    (p95 ${p95("hydrated")}), live subscription open ${med("live")} ms`);
    return {
      ...out,
      server_list_interactive_ms: med("hydrated"),
      server_list_interactive_p95_ms: p95("hydrated"),
      server_list_first_byte_ms: med("ttfb"),
      server_list_live_ms: med("live"),
    };
  } finally {
    await context.close();
  }
}
