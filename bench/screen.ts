// change_to_screen_p99_ms: a committed change → the browser's DOM shows it, with 1, 100 and
// 1,000 pages open on the same server's page (/servers/<id>, which subscribes to live.server).
// The path measured is the whole one a user waits for: commit → NOTIFY → the web process's hub
// → ws → the page's live handler → its 150 ms debounce (app/lib/live.tsx) → the refetch of the
// invalidated queries over HTTP → React re-render → the heading's text in the DOM (a
// MutationObserver in the page reports it with the wall clock; the bench's clock starts before
// the UPDATE, on the same machine's clock).
//
// Real chromium pages are opened up to SCREEN.realPages, bounded by time and free memory. 1,000
// real pages do not fit on this machine (2 cores, 24 GiB, shared): the rest of each count is
// MODELLED as live subscribers that behave like a page on the server's side — a ws with the
// session cookie and the page's Origin, the same live.server subscription, and on each event,
// after the same 150 ms debounce, the same HTTP refetch requests the real page made (captured
// from chromium in the first round). So the server-side fan-out and refetch load is real; the
// modelled clients' own DOM work is not, and they run in the bench's own process (its CPU
// competes with the web process and chromium). Their event → refetch-done time is reported too.
import type { Browser, BrowserContext, Page } from "playwright-core";
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { commitChange, deliveries, lastEventId } from "./invalidation";
import { PAGE_PROBE } from "./list-render";
import { percentile, round, median } from "./stats";
import { LiveSubscriber, openSubscribers } from "./ws-client";

export const SCREEN = {
  counts: [1, 100, 1000],
  /** At most this many real chromium pages (the rest of a count is modelled). */
  realPages: 100,
  rounds: { 1: 15, 100: 6, 1000: 6 } as Record<number, number>,
  /** Time to open the real pages in, in all. */
  openPagesMs: 120_000,
  /** Stop opening pages when the machine has less memory available than this. */
  minAvailableBytes: 3 * 1024 ** 3,
  /** A round waits at most this long for every page and modelled client. */
  roundTimeoutMs: 15_000,
  debounceMs: 150,
} as const;

const availableBytes = () => {
  const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : Infinity;
};

/** A modelled page: a live subscriber that refetches like the page after the same debounce. */
class ModelledPage {
  readonly sub: LiveSubscriber;
  inflight = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** eventId → when its refetch finished (performance.now()). */
  readonly refetched = new Map<string, number>();
  failures = 0;

  constructor(base: string, cookie: string, serverId: string, refetch: () => string[]) {
    const pending: string[] = [];
    this.sub = new LiveSubscriber(base, cookie, serverId, (a) => {
      pending.push(a.eventId);
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        const ids = pending.splice(0);
        this.inflight++;
        Promise.all(refetch().map((url) => fetch(url, { headers: { cookie, origin: base } }).then((r) => r.text())))
          .then(() => ids.forEach((id) => this.refetched.set(id, performance.now())))
          .catch(() => this.failures++)
          .finally(() => this.inflight--);
      }, SCREEN.debounceMs);
    });
  }

  close() {
    clearTimeout(this.#timer);
    this.sub.close();
  }
}

export async function measureChangeToScreen(
  app: { base: string; cookie: string; db: pg.Client },
  browser: Browser | null,
  serverId: string,
  log: (s: string) => void,
  fits: () => boolean,
): Promise<Record<string, unknown>> {
  const url = `${app.base}/servers/${serverId}`;
  const results: Record<string, unknown> = {};
  const perCount: Record<string, unknown> = {};
  if (!browser) return { change_to_screen_p99_ms: null, change_to_screen_note: "chromium did not start" };

  const [cname, cvalue] = [app.cookie.slice(0, app.cookie.indexOf("=")), app.cookie.slice(app.cookie.indexOf("=") + 1)];
  const context: BrowserContext = await browser.newContext();
  const pages: Page[] = [];
  const pageIndex = new Map<Page, number>();
  const modelled: ModelledPage[] = [];
  // heading text → per page index, the wall-clock time the page showed it
  const seen = new Map<string, Map<number, number>>();
  const captured: string[] = [];
  let capturing = false;
  try {
    await context.addCookies([{ name: cname, value: cvalue, url: app.base }]);
    await context.exposeBinding("__bfSeen", ({ page }, text: string | null, at: number) => {
      const i = pageIndex.get(page);
      if (i === undefined || text === null) return;
      const m = seen.get(text) ?? new Map<number, number>();
      if (!m.has(i)) m.set(i, at);
      seen.set(text, m);
    });
    await context.addInitScript(PAGE_PROBE);
    const openStarted = Date.now();
    let stopReason = "";
    const openPage = async () => {
      const page = await context.newPage();
      pageIndex.set(page, pages.length);
      pages.push(page);
      if (pages.length === 1) {
        page.on("request", (r) => {
          if (capturing && r.url().includes("/trpc/") && r.method() === "GET") captured.push(r.url());
        });
      }
      await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60_000 });
      await page.locator('[data-testid="live-indicator"][data-status="live"]').waitFor({ timeout: 60_000 });
    };
    /** Opens real pages up to `want` (bounded by time and memory), then modelled ones up to `count`. */
    const grow = async (count: number) => {
      const want = Math.min(count, SCREEN.realPages);
      while (pages.length < want && !stopReason) {
        if (Date.now() - openStarted > SCREEN.openPagesMs) stopReason = `time bound (${SCREEN.openPagesMs / 1000} s to open pages)`;
        else if (availableBytes() < SCREEN.minAvailableBytes)
          stopReason = `memory bound (< ${SCREEN.minAvailableBytes / 1024 ** 3} GiB available)`;
        else if (!fits()) stopReason = "the bench's time budget";
        else {
          const batch = Math.min(4, want - pages.length);
          await Promise.all(Array.from({ length: batch }, openPage));
        }
      }
      const models = count - pages.length - modelled.length;
      if (models > 0) {
        const refetchUrls = () => (captured.length ? captured : [byIdUrl(app.base, serverId)]);
        await openSubscribers(
          models,
          () => {
            const m = new ModelledPage(app.base, app.cookie, serverId, refetchUrls);
            modelled.push(m);
            return m.sub;
          },
          { deadlineMs: 60_000 },
        );
      }
    };

    let after = await lastEventId(app.db);
    let roundNo = 0;
    for (const count of SCREEN.counts) {
      if (!fits()) {
        perCount[count] = null;
        log(`  ${count} pages: not measured (the bench's time budget)`);
        continue;
      }
      const tOpen = Date.now();
      await grow(count);
      const real = pages.length;
      const models = modelled.length;
      log(
        `  ${count} pages: ${real} real chromium page(s) + ${models} modelled (opened in ${Date.now() - tOpen} ms; ` +
          `${round(availableBytes() / 1024 ** 3)} GiB available${stopReason ? `; real pages stopped by the ${stopReason}` : ""})`,
      );
      const rounds = SCREEN.rounds[count] ?? 10;
      const latencies: number[] = [];
      const t0ById = new Map<string, number>();
      let missed = 0;
      for (let r = 0; r < rounds; r++) {
        const text = `web-bench-${++roundNo}`;
        capturing = roundNo === 1;
        const c = await commitChange(app.db, serverId, { column: "name", value: text }, after);
        after = BigInt(c.eventId);
        t0ById.set(c.eventId, c.t0);
        const deadline = Date.now() + SCREEN.roundTimeoutMs;
        const done = () => (seen.get(text)?.size ?? 0) >= real && modelled.every((m) => m.refetched.has(c.eventId) || m.sub.closed);
        while (!done() && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
        const m = seen.get(text) ?? new Map<number, number>();
        for (let i = 0; i < real; i++) {
          const at = m.get(i);
          if (at === undefined) missed++;
          else latencies.push(at - c.wall0);
        }
        // Past the pages' debounce, and every modelled refetch finished: rounds never coalesce.
        const settle = Date.now() + SCREEN.roundTimeoutMs;
        while (modelled.some((x) => x.inflight > 0) && Date.now() < settle) await new Promise((res) => setTimeout(res, 5));
        await new Promise((res) => setTimeout(res, SCREEN.debounceMs + 100));
      }
      capturing = false;
      const all = [...latencies, ...Array<number>(missed).fill(Infinity)];
      const fin = (x: number) => (Number.isFinite(x) ? round(x) : null);
      // The modelled clients: ws arrival and refetch done, by event id.
      const ws = deliveries(
        modelled.map((x) => x.sub),
        t0ById,
        rounds,
      );
      const refetchDone: number[] = [];
      let refetchMissed = 0;
      for (const x of modelled)
        for (const [id, t0] of t0ById) {
          const at = x.refetched.get(id);
          if (at === undefined) refetchMissed++;
          else refetchDone.push(at - t0);
        }
      const entry = {
        real_pages: real,
        modelled_pages: models,
        rounds,
        p50_ms: fin(percentile(all, 50)),
        p99_ms: fin(percentile(all, 99)),
        max_ms: fin(Math.max(...all)),
        missed,
        ...(models
          ? {
              modelled_ws_p99_ms: ws.p99,
              modelled_ws_missed: ws.missed,
              modelled_refetch_done_p50_ms: fin(median(refetchDone)),
              modelled_refetch_done_p99_ms: fin(percentile([...refetchDone, ...Array<number>(refetchMissed).fill(Infinity)], 99)),
              modelled_refetch_missed: refetchMissed,
              modelled_refetch_failures: modelled.reduce((a, x) => a + x.failures, 0),
            }
          : {}),
      };
      perCount[count] = entry;
      log(
        `    change → DOM on the real pages: p50 ${entry.p50_ms} ms, p99 ${entry.p99_ms} ms, max ${entry.max_ms} ms ` +
          `(${latencies.length}/${latencies.length + missed} seen, missed ${missed}; ${rounds} changes)`,
      );
      if (models)
        log(
          `    modelled pages: event on the socket p99 ${ws.p99} ms (missed ${ws.missed}); event → refetch done ` +
            `p50 ${entry.modelled_refetch_done_p50_ms} ms, p99 ${entry.modelled_refetch_done_p99_ms} ms (missed ${refetchMissed}, failed ${entry.modelled_refetch_failures})`,
        );
      if (count === SCREEN.counts[0])
        log(
          `    refetch the page made (replayed by modelled pages): ${captured.map((u) => u.replace(app.base, "")).join(" ; ") || "none captured"}`,
        );
    }
    const get = (n: number) => perCount[n] as { p99_ms: number | null } | null | undefined;
    results.change_to_screen_p99_ms = { "1": get(1)?.p99_ms ?? null, "100": get(100)?.p99_ms ?? null, "1000": get(1000)?.p99_ms ?? null };
    results.change_to_screen = perCount;
    results.change_to_screen_note =
      `real chromium pages up to ${SCREEN.realPages} (bounded by ${SCREEN.openPagesMs / 1000} s and ${SCREEN.minAvailableBytes / 1024 ** 3} GiB free memory); ` +
      `the rest of each count modelled as live subscribers that subscribe and refetch like the page (server load real, their DOM work not)`;
    return results;
  } finally {
    for (const m of modelled) m.close();
    await context.close().catch(() => {});
  }
}

/** servers.byId as the browser's httpBatchLink asks for it (the fallback when no request was captured). */
function byIdUrl(base: string, id: string): string {
  const input = encodeURIComponent(JSON.stringify({ 0: { json: { id } } }));
  return `${base}/trpc/servers.byId?batch=1&input=${input}`;
}
