// Per-test databases: cheap copies of the migrated template made by tests/setup/global.ts.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { databaseUrl } from "../../scripts/infra/postgres";

const TEMPLATE_DB = "brokeforge_template"; // = TEMPLATE_DB in ./global (not imported: that module is runner-side)

export interface TestDatabase {
  /** Superuser URL of the new database. */
  url: string;
  name: string;
  /** Drops it, terminating any connections still open (e.g. a Prisma pool that wasn't closed). */
  drop(): Promise<void>;
}

export function pgAdminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) throw new Error("No test Postgres: run through vitest with tests/setup/global.ts as globalSetup");
  return url;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = pgAdminUrl();
  const name = `bf_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await adminQuery(adminUrl, `create database "${name}" template ${TEMPLATE_DB}`);
  return {
    name,
    url: databaseUrl(adminUrl, name),
    drop: () => adminQuery(adminUrl, `drop database if exists "${name}" with (force)`),
  };
}

async function adminQuery(adminUrl: string, sql: string) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
