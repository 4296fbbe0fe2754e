// prisma/tools/engine.ts against a real PostgreSQL (TEST_PG_ADMIN_URL, set by the
// shared vitest global setup). Each test file run uses its own databases.
import { createHash, randomBytes } from "node:crypto";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { applyMigrations, createMigration, DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH, migrationStatus } from "../../prisma/tools/engine";

const adminUrl = process.env.TEST_PG_ADMIN_URL;
if (!adminUrl) throw new Error("TEST_PG_ADMIN_URL is not set (admin URL of the test PostgreSQL server)");

const created: string[] = [];

function urlFor(database: string): string {
  const url = new URL(adminUrl!);
  url.pathname = `/${database}`;
  return url.toString();
}

async function query<T extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** A fresh, empty, uniquely named database; dropped in afterAll. */
async function newDatabase(): Promise<string> {
  const name = `bf_migrate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await query(adminUrl!, `CREATE DATABASE "${name}"`);
  created.push(name);
  return urlFor(name);
}

async function databaseNames(): Promise<string[]> {
  return (await query<{ datname: string }>(adminUrl!, "SELECT datname FROM pg_database")).map((r) => r.datname);
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function migrationDirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

afterAll(async () => {
  for (const name of created) await query(adminUrl!, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
});

describe("applyMigrations", () => {
  it("applies every migration to an empty database and records sha256 checksums", async () => {
    const databaseUrl = await newDatabase();
    const expected = await migrationDirs(DEFAULT_MIGRATIONS_DIR);
    expect(expected.length).toBeGreaterThan(0);

    const { applied } = await applyMigrations({ databaseUrl });
    expect(applied).toEqual(expected);

    const tables = await query<{ table_name: string }>(
      databaseUrl,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(["User", "Session", "ApiToken", "LoginAttempt", "Server", "ServerCredential", "Operation"]),
    );

    const rows = await query(
      databaseUrl,
      `SELECT migration_name, checksum, finished_at, rolled_back_at, applied_steps_count
         FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(rows.map((r) => r.migration_name)).toEqual(expected);
    for (const row of rows) {
      const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, "migration.sql"), "utf8");
      expect(row.checksum).toBe(sha256(sql));
      expect(row.finished_at).not.toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it("is a no-op the second time", async () => {
    const databaseUrl = await newDatabase();
    expect((await applyMigrations({ databaseUrl })).applied.length).toBeGreaterThan(0);
    const before = await query(databaseUrl, "SELECT * FROM _prisma_migrations ORDER BY id");
    expect(await applyMigrations({ databaseUrl })).toEqual({ applied: [], edited: [] });
    expect(await query(databaseUrl, "SELECT * FROM _prisma_migrations ORDER BY id")).toEqual(before);

    const status = await migrationStatus({ databaseUrl });
    expect(status).toMatchObject({ pending: [], failed: [], edited: [], upToDate: true });
  });

  it("creates the database when it does not exist", async () => {
    const name = `bf_migrate_test_${process.pid}_${randomBytes(4).toString("hex")}`;
    created.push(name);
    const { applied } = await applyMigrations({ databaseUrl: urlFor(name) });
    expect(applied).toEqual(await migrationDirs(DEFAULT_MIGRATIONS_DIR));
  });
});

describe("createMigration", () => {
  const workspaces: string[] = [];
  afterAll(async () => {
    for (const dir of workspaces) await rm(dir, { recursive: true, force: true });
  });

  /**
   * Each test's own copies of the schema and the migrations (the real ones must not change)
   * and its own "real" database: migrated, with data in it. `changed`: the schema gains a
   * column the migrations don't have yet.
   */
  async function workspace({ changed }: { changed: boolean }) {
    const tmp = await mkdtemp(path.join(os.tmpdir(), "bf-migrate-test-"));
    workspaces.push(tmp);
    const schemaPath = path.join(tmp, "schema.prisma");
    const migrationsDir = path.join(tmp, "migrations");
    await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const schema = await readFile(DEFAULT_SCHEMA_PATH, "utf8");
    const edited = schema.replace(/(model User \{\n)/, "$1  nickname String?\n");
    expect(edited).not.toBe(schema);
    await writeFile(schemaPath, changed ? edited : schema);

    const databaseUrl = await newDatabase();
    await applyMigrations({ databaseUrl, migrationsDir });
    await query(databaseUrl, `INSERT INTO "User" (id, email, "passwordHash") VALUES ('u1', 'keep@example.com', 'x')`);
    return { schemaPath, migrationsDir, databaseUrl };
  }

  it("writes the ALTER for a schema change without touching the real database", async () => {
    const { schemaPath, migrationsDir, databaseUrl } = await workspace({ changed: true });
    const databasesBefore = await databaseNames();
    const dirsBefore = await migrationDirs(migrationsDir);

    const result = await createMigration({ databaseUrl, schemaPath, migrationsDir, name: "add nickname" });

    expect(result.path).toMatch(/[/\\]\d{14}_add_nickname[/\\]migration\.sql$/);
    const sql = await readFile(result.path!, "utf8");
    expect(sql).toContain(`ALTER TABLE "User" ADD COLUMN     "nickname" TEXT;`);
    expect(await migrationDirs(migrationsDir)).toEqual([...dirsBefore, result.name].sort());
    expect(await readFile(path.join(migrationsDir, "migration_lock.toml"), "utf8")).toContain('provider = "postgresql"');

    // The real database: data intact, schema unchanged (create does not apply anything).
    expect(await query(databaseUrl, `SELECT id, email FROM "User"`)).toEqual([{ id: "u1", email: "keep@example.com" }]);
    const columns = await query(
      databaseUrl,
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'User' AND column_name = 'nickname'`,
    );
    expect(columns).toEqual([]);
    // The throwaway (shadow) databases are gone again.
    const shadows = (names: string[]) => names.filter((d) => d.startsWith("prisma_shadow_"));
    expect(shadows(await databaseNames())).toEqual(shadows(databasesBefore));

    // The new migration applies cleanly on top and keeps the data.
    expect((await applyMigrations({ databaseUrl, migrationsDir })).applied).toEqual([result.name]);
    expect(await query(databaseUrl, `SELECT id, nickname FROM "User"`)).toEqual([{ id: "u1", nickname: null }]);
    // And then the schema matches the migrations: nothing more to write.
    expect(await createMigration({ databaseUrl, schemaPath, migrationsDir, name: "again" })).toEqual({ path: null, name: null });
  });

  it("writes nothing when the schema matches the migrations", async () => {
    const { schemaPath, migrationsDir, databaseUrl } = await workspace({ changed: false });
    const dirsBefore = await migrationDirs(migrationsDir);
    expect(await createMigration({ databaseUrl, schemaPath, migrationsDir, name: "nothing" })).toEqual({
      path: null,
      name: null,
    });
    expect(await migrationDirs(migrationsDir)).toEqual(dirsBefore);
  });

  it("needs only the server: the database in the URL is not created or opened", async () => {
    const { schemaPath, migrationsDir } = await workspace({ changed: true });
    const missing = `bf_migrate_test_missing_${randomBytes(4).toString("hex")}`;
    const result = await createMigration({ databaseUrl: urlFor(missing), schemaPath, migrationsDir, name: "offline" });
    // It did its work (the diff against the replayed migrations) without that database.
    expect(result.path).toMatch(/_offline[/\\]migration\.sql$/);
    expect(await readFile(result.path!, "utf8")).toContain(`ADD COLUMN     "nickname" TEXT;`);
    expect(await databaseNames()).not.toContain(missing);
  });

  it("reports migrations edited after they were applied", async () => {
    const { migrationsDir, databaseUrl } = await workspace({ changed: false });
    const [first] = await migrationDirs(migrationsDir);
    const file = path.join(migrationsDir, first!, "migration.sql");
    await writeFile(file, `${await readFile(file, "utf8")}\n-- edited\n`);
    expect(await migrationStatus({ databaseUrl, migrationsDir })).toMatchObject({ edited: [first], upToDate: true });
    expect(await applyMigrations({ databaseUrl, migrationsDir })).toEqual({ applied: [], edited: [first] });
  });
});
