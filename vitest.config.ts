// Test tiers as vitest projects. `vitest run` (npm test) runs them all; `--project <name>`
// runs one tier (npm run test:unit, test:integration, test:e2e, test:debian).
//
// Each tier names only the global setups it needs: the root config has none, because vitest
// runs the root project's globalSetup for every run, even `--project unit`. The tiers that do
// need Postgres + Temporal or the Remix build share one of each per vitest process (see
// tests/setup/global.ts and build.ts), so `npm test` still starts them once.
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";

const INFRA = "tests/setup/global.ts"; // embedded Postgres + Temporal dev server + migrated template
const BUILD = "tests/setup/build.ts"; // `remix build`: anything that starts the web server serves build/

const base = {
  pool: "forks",
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // expect.poll waits for what the engine, the browser or a server does next; vitest's default
  // of 1 s is a timing assertion in disguise (CI run with 3 files at a time: e2e/live.test.ts
  // waited 1 s for an operation to finish after its hold opened, and failed).
  expect: { poll: { timeout: 30_000 } },
} satisfies TestProjectInlineConfiguration["test"];

// Tests run in a random order in the unit and integration tiers: every test makes its own
// user and data, and this proves it. Only the tiers whose files are stories told step by step
// (e2e, debian) keep their order. vitest 3.2 reads `sequence` from the root config only, so
// the root shuffles the files (which also makes vitest pick and print a seed; replay an order
// with `--sequence.seed=<n>`), and the shuffled tiers run the tests in each file through
// tests/setup/shuffled-runner.ts, which shuffles them with that seed.
const SHUFFLED_TESTS = "tests/setup/shuffled-runner.ts";

export default defineConfig({
  test: {
    sequence: { shuffle: { files: true, tests: false } },
    // One pool serves every project, and vitest sizes it to cpus − 1: ONE file at a time on a
    // 2-core machine, so the whole suite was the sum of its files (2967 s in CI at stop 19,
    // over the 45-minute budget). Most of a file's time is waiting — a Debian container's apt,
    // a real browser, Temporal timers — so two files at a time. Not three: a run with three on
    // this 2-core machine (while other work loaded it) starved the CPU-bound files — the QEMU
    // VM's ufw install timed out at 600 s, role-web provisioning took 755 s. Every file makes
    // its own users, servers, containers and ports (tests/setup, tests/debian/harness).
    maxWorkers: 2,
    // `npm test` runs with --coverage and prints the figures per folder
    // (scripts/test/coverage-by-folder.ts). For reading, not a gate: no thresholds.
    coverage: {
      provider: "v8",
      include: [
        "{activities,app,catalogue,core,domain,trpc,web,workflows,temporal,scripts}/**/*.{ts,tsx}",
        "prisma/tools/**/*.ts",
        "server.ts",
      ],
      exclude: ["**/*.test.ts", "**/*.test-helper.ts", "**/*.d.ts"],
      reporter: ["json-summary", "html"],
      reportOnFailure: true,
    },
    projects: [
      {
        test: {
          ...base,
          name: "unit",
          runner: SHUFFLED_TESTS,
          // Tests next to the code: pure functions, local processes at most (bash, ssh-keygen).
          // Nothing here may need Postgres, Temporal or an SSH peer: this tier has no global setup.
          include: ["{activities,core,domain,catalogue,trpc,workflows}/**/*.test.ts"],
        },
      },
      {
        test: {
          ...base,
          name: "integration",
          runner: SHUFFLED_TESTS,
          include: ["tests/{integration,ssh,prisma,infra}/**/*.test.ts"],
          // The build too: web-auth, api-security, ops-cli and live start the web server.
          globalSetup: [INFRA, BUILD],
        },
      },
      {
        test: {
          ...base,
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          globalSetup: [INFRA, BUILD],
        },
      },
      {
        test: {
          ...base,
          name: "debian",
          include: ["tests/debian/**/*.test.ts"],
          // The engine (tests/setup/engine.ts); provisioning-browser.test.ts also serves the pages.
          // The build is here, in vitest's main process, shared with e2e's: a test file that built
          // again would rewrite public/build under another project's running web servers (CI
          // stop 20's live.test.ts got 404s for every asset while a debian file rebuilt).
          globalSetup: [INFRA, BUILD],
        },
      },
    ],
  },
});
