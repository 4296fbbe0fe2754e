// The embedded local stack of `npm run dev`: secrets, PostgreSQL and a Temporal dev server under
// .data/ (or $BROKEFORGE_DATA_DIR), each replaced by its env var when that is set.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { applyMigrations } from "../prisma/tools/engine";
import { SEARCH_ATTRIBUTES } from "../temporal/search-attributes";
import { databaseUrl, ensureDatabase, startPostgres } from "./infra/postgres";
import { startTemporalDevServer } from "./infra/temporal";

/**
 * Where dev keeps its PostgreSQL cluster, Temporal history and secrets. BROKEFORGE_DATA_DIR moves
 * it, so tests (and a second checkout's dev) never touch a developer's .data/.
 */
export const DATA_DIR = path.resolve(process.env.BROKEFORGE_DATA_DIR || path.join(new URL("..", import.meta.url).pathname, ".data"));

/** Dev secrets, generated once into <data dir>/secrets.json (mode 600) unless set in the env. */
export async function devSecrets(dataDir = DATA_DIR): Promise<{ BROKEFORGE_ENCRYPTION_KEY: string; SESSION_SECRET: string }> {
  const file = path.join(dataDir, "secrets.json");
  let stored: Record<string, string>;
  try {
    stored = JSON.parse(await fs.readFile(file, "utf8"));
  } catch {
    stored = {
      BROKEFORGE_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
      SESSION_SECRET: randomBytes(32).toString("base64url"),
    };
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, JSON.stringify(stored, null, 2), { mode: 0o600, flag: "wx" }).catch(async () => {
      stored = JSON.parse(await fs.readFile(file, "utf8")); // a concurrent start won the race
    });
  }
  return {
    BROKEFORGE_ENCRYPTION_KEY: process.env.BROKEFORGE_ENCRYPTION_KEY ?? stored.BROKEFORGE_ENCRYPTION_KEY!,
    SESSION_SECRET: process.env.SESSION_SECRET ?? stored.SESSION_SECRET!,
  };
}

export interface Stack {
  DATABASE_URL: string;
  TEMPORAL_ADDRESS: string;
  TEMPORAL_UI_URL: string;
  stop(): Promise<void>;
}

export async function startLocalStack(opts: {
  pgPort: number;
  temporalPort: number;
  temporalUiPort: number;
  dataDir?: string;
}): Promise<Stack> {
  const dataDir = opts.dataDir ?? DATA_DIR;
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e) => console.error(e));
  };
  try {
    let DATABASE_URL = process.env.DATABASE_URL;
    if (!DATABASE_URL) {
      console.log(`[stack] starting PostgreSQL (embedded) on 127.0.0.1:${opts.pgPort}, data in ${shown(path.join(dataDir, "postgres"))}`);
      const pg = await startPostgres({ dataDir: path.join(dataDir, "postgres"), port: opts.pgPort });
      stops.push(pg.stop);
      console.log(`[stack] PostgreSQL ready (pid ${pg.pid})`);
      await ensureDatabase(pg.adminUrl, "brokeforge");
      DATABASE_URL = databaseUrl(pg.adminUrl, "brokeforge");
    }
    const { applied } = await applyMigrations({ databaseUrl: DATABASE_URL });
    console.log(`[stack] migrations: ${applied.length ? `applied ${applied.join(", ")}` : "up to date"}`);

    let TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS;
    let TEMPORAL_UI_URL = process.env.TEMPORAL_UI_URL ?? "";
    if (!TEMPORAL_ADDRESS) {
      console.log(
        `[stack] starting Temporal dev server on 127.0.0.1:${opts.temporalPort}, data in ${shown(path.join(dataDir, "temporal"))}`,
      );
      await fs.mkdir(path.join(dataDir, "temporal"), { recursive: true });
      const temporal = await startTemporalDevServer({
        port: opts.temporalPort,
        uiPort: opts.temporalUiPort,
        dbFile: path.join(dataDir, "temporal", "temporal.db"),
        searchAttributes: SEARCH_ATTRIBUTES,
      });
      stops.push(temporal.stop);
      console.log(`[stack] Temporal ready (pid ${temporal.pid}), UI on ${temporal.uiUrl}`);
      TEMPORAL_ADDRESS = temporal.address;
      TEMPORAL_UI_URL = temporal.uiUrl;
    }
    return { DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_UI_URL: TEMPORAL_UI_URL || "http://127.0.0.1:8233", stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A path as the developer would type it: relative to the checkout when inside it. */
export function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : p;
}
