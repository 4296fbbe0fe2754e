import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Connection } from "@temporalio/client";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../scripts/infra/ports";
import { startPostgres } from "../../scripts/infra/postgres";
import { resolveTemporalCli } from "../../scripts/infra/temporal";
import { SEARCH_ATTRIBUTES } from "../../temporal/search-attributes";
import { createTestDatabase, type TestDatabase } from "../setup/db";

/** temporal.api.enums.v1.IndexedValueType, as listSearchAttributes returns it. */
const INDEXED_VALUE_TYPE = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 } as const;

async function query<R extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe("postgres from the global setup", () => {
  it("answers select 1, via inject() and via TEST_PG_ADMIN_URL", async () => {
    expect(process.env.TEST_PG_ADMIN_URL).toBe(inject("pgAdminUrl"));
    expect(await query(inject("pgAdminUrl"), "select 1 as one")).toEqual([{ one: 1 }]);
    const [{ encoding }] = await query(inject("pgAdminUrl"), "select current_setting('server_encoding') as encoding");
    expect(encoding).toBe("UTF8");
  });

  it("createTestDatabase gives separate databases cloned from brokeforge_template", async () => {
    const a = await createTestDatabase();
    const b = await createTestDatabase();
    try {
      expect(a.name).not.toBe(b.name);
      await query(a.url, "create table only_in_a (id int)");
      expect(await query(a.url, "select current_database() as db")).toEqual([{ db: a.name }]);
      expect(await query(b.url, "select to_regclass('only_in_a') as t")).toEqual([{ t: null }]);
    } finally {
      await a.drop();
      await b.drop();
    }
    const left = await query(inject("pgAdminUrl"), "select datname from pg_database where datname = any($1)", [[a.name, b.name]]);
    expect(left).toEqual([]);
  });

  it("drop() succeeds while a connection is still open: the database is gone and the connection ended", async () => {
    const db: TestDatabase = await createTestDatabase();
    const leaked = new pg.Client({ connectionString: db.url });
    const errors: Error[] = [];
    leaked.on("error", (err) => errors.push(err)); // it gets terminated by drop ... with (force)
    await leaked.connect();
    expect(await leaked.query("select 1 as one").then((r) => r.rows)).toEqual([{ one: 1 }]);
    await db.drop();
    const left = await query(inject("pgAdminUrl"), "select datname from pg_database where datname = $1", [db.name]);
    expect(left).toEqual([]);
    // The server closed the leaked connection: it can no longer be used.
    await expect(leaked.query("select 1")).rejects.toThrow();
    await leaked.end().catch(() => undefined);
  });
});

describe("startPostgres on its own data dir", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "bf-pg-persist-"));
    await fs.chmod(dir, 0o755); // the postgres OS user must traverse it
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it("keeps data across restarts and recovers from a stale postmaster.pid", async () => {
    const dataDir = path.join(dir, "data");
    const port = await freePort();
    const first = await startPostgres({ dataDir, port });
    await query(first.adminUrl, "create table survives (v text)");
    await query(first.adminUrl, "insert into survives values ('yes')");
    await first.stop();

    // What a SIGKILLed run leaves behind after its pid got re-used: a pid file naming a live
    // process that is not our postmaster (pid 1 here). Postgres alone would refuse to start.
    await fs.writeFile(path.join(dataDir, "postmaster.pid"), `1\n${dataDir}\n`);
    const second = await startPostgres({ dataDir, port });
    try {
      expect(await query(second.adminUrl, "select v from survives")).toEqual([{ v: "yes" }]);
    } finally {
      await second.stop();
    }
  });
});

describe("temporal dev server from the global setup", () => {
  it("answers and has the BrokeForge search attributes registered", async () => {
    expect(process.env.TEST_TEMPORAL_ADDRESS).toBe(inject("temporalAddress"));
    const connection = await Connection.connect({ address: inject("temporalAddress") });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: "default" });
      for (const [name, kind] of Object.entries(SEARCH_ATTRIBUTES)) {
        expect(customAttributes?.[name], name).toBe(INDEXED_VALUE_TYPE[kind]);
      }
    } finally {
      await connection.close();
    }
  });
});

describe("resolveTemporalCli", () => {
  const saved = process.env.TEMPORAL_CLI_PATH;
  afterEach(() => {
    if (saved === undefined) delete process.env.TEMPORAL_CLI_PATH;
    else process.env.TEMPORAL_CLI_PATH = saved;
  });

  it("honours TEMPORAL_CLI_PATH", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "bf-fake-temporal-"));
    const fake = path.join(dir, "temporal");
    await fs.writeFile(fake, '#!/bin/sh\necho "temporal version 0.0.0-fake"\n', { mode: 0o755 });
    try {
      process.env.TEMPORAL_CLI_PATH = fake;
      const cli = await resolveTemporalCli();
      expect(cli).toBe(fake);
      const { stdout } = await promisify(execFile)(cli, ["--version"]);
      expect(stdout.trim()).toBe("temporal version 0.0.0-fake");
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly when TEMPORAL_CLI_PATH points nowhere", async () => {
    process.env.TEMPORAL_CLI_PATH = "/nonexistent/bin/temporal";
    await expect(resolveTemporalCli()).rejects.toThrow(/TEMPORAL_CLI_PATH.*\/nonexistent\/bin\/temporal.*not an executable/);
  });
});
