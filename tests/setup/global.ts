// vitest globalSetup: ONE Postgres and ONE Temporal dev server for the whole run, on free ports,
// in a fresh temp dir. Test files get their addresses via inject() or process.env.
// Several test projects (vitest.config.ts) list this file; vitest runs each project's global
// setup separately, in the same process, so the first one starts the infrastructure and the
// others share it (one per vitest process, stopped when the last project tears down).
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { freePort } from "../../scripts/infra/ports";
import { databaseUrl, ensureDatabase, startPostgres, stopOrphanedPostgres } from "../../scripts/infra/postgres";
import { startTemporalDevServer } from "../../scripts/infra/temporal";
import { SEARCH_ATTRIBUTES } from "../../temporal/search-attributes";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
    temporalAddress: string;
  }
}

/** Database with all migrations applied; tests clone it (tests/setup/db.ts). */
export const TEMPLATE_DB = "brokeforge_template";
const RUN_DIR_PREFIX = "brokeforge-test-";
const ENGINE_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../prisma/tools/engine.ts");

interface Infra {
  pgAdminUrl: string;
  temporalAddress: string;
  stop(): Promise<void>;
}

// On globalThis, not in a module variable: each project loads this module through its own
// module runner, so module state is per project while globalThis is the process's.
const SHARED = Symbol.for("brokeforge.tests.infra");
type Shared = { infra: Promise<Infra>; users: number };
const shared = globalThis as typeof globalThis & { [SHARED]?: Shared };

export default async function setup({ provide }: TestProject) {
  const mine = (shared[SHARED] ??= { infra: startInfra(), users: 0 });
  mine.users++;
  let infra: Infra;
  try {
    infra = await mine.infra;
  } catch (err) {
    if (shared[SHARED] === mine) delete shared[SHARED]; // a later run in this process starts afresh
    throw err;
  }

  provide("pgAdminUrl", infra.pgAdminUrl);
  provide("temporalAddress", infra.temporalAddress);
  // Also as env vars: the forked test workers inherit them, and non-vitest helpers can read them.
  process.env.TEST_PG_ADMIN_URL = infra.pgAdminUrl;
  process.env.TEST_TEMPORAL_ADDRESS = infra.temporalAddress;

  return async () => {
    if (--mine.users > 0) return;
    if (shared[SHARED] === mine) delete shared[SHARED];
    await infra.stop();
  };
}

async function startInfra(): Promise<Infra> {
  await sweepAbandonedRuns();
  const root = await fs.mkdtemp(path.join(os.tmpdir(), RUN_DIR_PREFIX));
  // mkdtemp gives 0700 root:root; the unprivileged postgres user must be able to traverse it.
  await fs.chmod(root, 0o755);
  await fs.writeFile(path.join(root, "owner.pid"), String(process.pid));

  // Sequential, so two calls can't hand out the same port.
  const pgPort = await freePort();
  const temporalPort = await freePort();
  const uiPort = await freePort();

  const [pgResult, temporalResult] = await Promise.allSettled([
    startPostgres({ dataDir: path.join(root, "pg"), port: pgPort, logFile: path.join(root, "postgres.log") }),
    startTemporalDevServer({ port: temporalPort, uiPort, searchAttributes: SEARCH_ATTRIBUTES, logFile: path.join(root, "temporal.log") }),
  ]);
  const postgres = pgResult.status === "fulfilled" ? pgResult.value : undefined;
  const temporal = temporalResult.status === "fulfilled" ? temporalResult.value : undefined;
  const stopAll = () => Promise.allSettled([temporal?.stop(), postgres?.stop()]);

  try {
    if (!postgres || !temporal) {
      throw new AggregateError(
        [pgResult, temporalResult].flatMap((r) => (r.status === "rejected" ? [r.reason] : [])),
        `test infrastructure failed to start (logs kept in ${root})`,
      );
    }
    await createTemplateDatabase(postgres.adminUrl);
  } catch (err) {
    await stopAll(); // root stays for the logs; the next run's sweep removes it
    throw err;
  }

  return {
    pgAdminUrl: postgres.adminUrl,
    temporalAddress: temporal.address,
    async stop() {
      await stopAll();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

async function createTemplateDatabase(adminUrl: string) {
  await ensureDatabase(adminUrl, TEMPLATE_DB);
  // prisma/tools/engine.ts is developed in parallel; until it exists, tests get an empty template.
  const engineExists = await fs.access(ENGINE_MODULE).then(
    () => true,
    () => false,
  );
  if (!engineExists) {
    console.warn(`[tests/setup/global] ${ENGINE_MODULE} not found: ${TEMPLATE_DB} has no migrations applied`);
    return;
  }
  const { applyMigrations } = (await import(/* @vite-ignore */ ENGINE_MODULE)) as {
    applyMigrations(opts: { databaseUrl: string }): Promise<unknown>;
  };
  await applyMigrations({ databaseUrl: databaseUrl(adminUrl, TEMPLATE_DB) });
}

/**
 * A run killed with SIGKILL (or a crashed runner) skips teardown. Temporal dies with it (pdeathsig),
 * but its Postgres keeps running: stop those and delete their dirs, identified by a dead owner pid.
 */
async function sweepAbandonedRuns() {
  const tmp = os.tmpdir();
  for (const name of await fs.readdir(tmp)) {
    if (!name.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(tmp, name);
    const owner = Number(await fs.readFile(path.join(dir, "owner.pid"), "utf8").catch(() => NaN));
    if (Number.isNaN(owner)) {
      // No owner.pid yet: maybe a run starting right now. Only sweep it once it is clearly old.
      if (Date.now() - (await fs.stat(dir)).mtimeMs < 10 * 60_000) continue;
    } else if (isAlive(owner)) continue;
    await stopOrphanedPostgres(path.join(dir, "pg")).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
