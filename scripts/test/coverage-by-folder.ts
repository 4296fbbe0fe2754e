/**
 * Prints the v8 coverage of `npm test` per folder, read from vitest's json-summary
 * (coverage/coverage-summary.json). It is for reading, not a gate: there are no thresholds.
 *
 * What it can and cannot see: vitest instruments the test processes, so code the tests run
 * in-process (activities, the tRPC routers, core, the catalogue, web/) is counted; code
 * elsewhere is not — processes the tests spawn (the ops CLI, dev, the e2e worker), Temporal
 * workflows (run in the SDK's isolated bundle), app/ (the web server serves the compiled Remix
 * build, and its browser half runs in chromium). A low figure for workflows/, app/ or
 * scripts/ops means "not visible here", not "untested".
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative } from "node:path";

interface Metric {
  total: number;
  covered: number;
}
type Metrics = Record<"lines" | "statements" | "branches" | "functions", Metric>;

const SUMMARY = "coverage/coverage-summary.json";
if (!existsSync(SUMMARY)) {
  console.log(`coverage: no ${SUMMARY} (the run did not get as far as writing it)`);
  process.exit(0);
}
const summary = JSON.parse(readFileSync(SUMMARY, "utf8")) as Record<string, Metrics>;
const root = process.cwd();

const folders = new Map<string, Metrics & { files: number; unloaded: number }>();
for (const [file, m] of Object.entries(summary)) {
  if (file === "total") continue;
  const folder = dirname(relative(root, file)) || ".";
  const acc = folders.get(folder) ?? {
    files: 0,
    unloaded: 0,
    lines: { total: 0, covered: 0 },
    statements: { total: 0, covered: 0 },
    branches: { total: 0, covered: 0 },
    functions: { total: 0, covered: 0 },
  };
  acc.files++;
  // A file no test loaded gets a placeholder from v8 (0 lines, but 1/1 function and branch):
  // count its lines and statements, not the fake 100 %, and list it under "never loaded".
  const loaded = m.lines.covered > 0;
  if (!loaded) acc.unloaded++;
  for (const k of loaded ? (["lines", "statements", "branches", "functions"] as const) : (["lines", "statements"] as const)) {
    acc[k].total += m[k].total;
    acc[k].covered += m[k].covered;
  }
  folders.set(folder, acc);
}

const pct = (m: Metric) => (m.total === 0 ? "    -" : `${((100 * m.covered) / m.total).toFixed(1).padStart(5)}`);
const rows = [...folders.entries()].sort(([a], [b]) => a.localeCompare(b));
const width = Math.max(6, ...rows.map(([f]) => f.length));
console.log("\nCoverage by folder (v8; % of lines, statements, branches, functions; files):");
console.log(`${"folder".padEnd(width)}  lines  stmts branch  funcs  files  never loaded`);
for (const [folder, m] of rows) {
  console.log(
    `${folder.padEnd(width)}  ${pct(m.lines)}  ${pct(m.statements)}  ${pct(m.branches)}  ${pct(m.functions)}  ${String(m.files).padStart(5)}  ${String(m.unloaded).padStart(12)}`,
  );
}
const sum = (k: keyof Metrics): Metric =>
  rows.reduce((a, [, m]) => ({ total: a.total + m[k].total, covered: a.covered + m[k].covered }), { total: 0, covered: 0 });
const files = rows.reduce((a, [, m]) => a + m.files, 0);
const unloaded = rows.reduce((a, [, m]) => a + m.unloaded, 0);
console.log(
  `${"total".padEnd(width)}  ${pct(sum("lines"))}  ${pct(sum("statements"))}  ${pct(sum("branches"))}  ${pct(sum("functions"))}  ${String(files).padStart(5)}  ${String(unloaded).padStart(12)}`,
);
console.log(
  "Per file: coverage/index.html. Branches and functions count loaded files only. Not counted: child processes (the ops CLI, dev, the e2e worker), Temporal workflow bundles, the compiled Remix build app/ is served from, the browser.",
);
