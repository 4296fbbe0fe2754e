// What the bench prints: every figure as a human line with its method while it runs, then the
// targets, and as the LAST stdout line one JSON object with every figure recorded so far (also
// after an error or the hard timeout, so a partial run still reports what it measured).
import os from "node:os";

export interface Report {
  /** One human-readable line on stdout. */
  log(line?: string): void;
  /** A phase heading with the time since the bench started. */
  section(title: string): void;
  /** Milliseconds since the bench started (the time budget is counted from here too). */
  elapsedMs(): number;
  /** Adds figures to the final JSON line (later values win). */
  record(figures: Record<string, unknown>): void;
  /** Prints the targets, load and total time, then the JSON line; resolves once stdout has it. */
  finish(outcome: { ok: boolean; error?: unknown }): Promise<void>;
}

export function createReport(): Report {
  const t0 = Date.now();
  const results: Record<string, unknown> = {};
  const log = (line = "") => console.log(line);
  return {
    log,
    section: (title) => log(`\n== ${title} (t+${((Date.now() - t0) / 1000).toFixed(1)} s)`),
    elapsedMs: () => Date.now() - t0,
    record: (figures) => void Object.assign(results, figures),
    async finish({ ok, error }) {
      const tm = targets(results);
      log("");
      log(
        `targets: handoff_p50 < 100 ms: ${tm.handoff_p50_ms}; parallel_ratio ≤ 1.5: ${tm.parallel_ratio}; ` +
          `milestone_overhead < 15 ms: ${tm.milestone_overhead_ms}; invalidation_p99 < 25 ms: ${tm.invalidation_p99_ms}; ` +
          `server_list_render < 100 ms: ${tm.server_list_render_ms}; provision_overhead_ratio ≤ 1.3: ${tm.provision_overhead_ratio}`,
      );
      log(`load average at the end ${loadAverage()}`);
      log(`total bench time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      const json = JSON.stringify({
        ...results,
        targets_met: tm,
        ok,
        ...(error ? { error: String(error instanceof Error ? error.message : error).split("\n")[0] } : {}),
      });
      await new Promise<void>((resolve) => process.stdout.write(`${json}\n`, () => resolve()));
    },
  };
}

/** Each target: true/false, or null when its figure was not measured (error, timeout). */
function targets(results: Record<string, unknown>) {
  const met = (v: unknown, ok: (x: number) => boolean) => (typeof v === "number" ? ok(v) : null);
  return {
    handoff_p50_ms: met(results.handoff_p50_ms, (x) => x < 100),
    parallel_ratio: met(results.parallel_ratio, (x) => x <= 1.5),
    milestone_overhead_ms: met(results.milestone_overhead_ms, (x) => x < 15),
    invalidation_p99_ms: met(results.invalidation_p99_ms, (x) => x < 25),
    server_list_render_ms: met(results.server_list_render_ms, (x) => x < 100),
    provision_overhead_ratio: met(results.provision_overhead_ratio, (x) => x <= 1.3),
  };
}

export const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
