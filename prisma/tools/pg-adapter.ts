// Driver adapter factory handed to the wasm schema engine (see wasm-engine.ts).
//
// Stock `PrismaPg` (@prisma/adapter-pg 7.10) is written for the query engine; as a
// schema-engine adapter it has three problems that this module works around:
//
// 1. Introspection queries return the internal `"char"` type (oid 18, e.g.
//    pg_constraint.contype), which the adapter rejects as an unsupported column
//    type. The native engine reads such columns as single characters, and the
//    describer relies on it (on PostgreSQL 18, NOT NULL constraints show up in
//    pg_constraint and a text value there makes the engine panic). Fix: a
//    pg.Client subclass relabels oid 18 as text so the adapter accepts the
//    result, and our queryRaw wrapper then reports those columns as Character.
// 2. `PrismaPg.connectToShadowDb()` builds the shadow pool as
//    `new Pool({ ...config, database: shadowName })`. When `config` holds a
//    `connectionString`, node-postgres lets the connection string override the
//    `database` field, so the "shadow" pool is really the MAIN database and the
//    engine replays migrations there: data loss. Its cleanup also runs DROP
//    DATABASE while its own pool is still connected, which fails.
//    Fix: we create the shadow database ourselves with a separate admin
//    connection, connect to it with explicit host/user/password/database fields
//    (never a connection string), and drop it ourselves in `close()`.
// 3. `executeScript` naively splits scripts on ";" (breaks on semicolons in
//    strings, `$$` function bodies, …) and runs statements one by one. Fix: send
//    the whole script as one simple-protocol query, which is what the native
//    schema engine does (and it makes a migration script one implicit transaction).

import { randomBytes } from "node:crypto";
import {
  ColumnTypeEnum,
  DriverAdapterError,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQueryable,
} from "@prisma/driver-adapter-utils";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

// Result rows array -> indexes of its "char" columns. adapter-pg's queryRaw returns
// pg's `rows` array as is, which lets the queryRaw wrapper find them again.
const charColumns = new WeakMap<unknown[], number[]>();

function relabelChar<T>(result: T): T {
  for (const r of (Array.isArray(result) ? result : [result]) as (pg.QueryResult | undefined)[]) {
    const indexes: number[] = [];
    r?.fields?.forEach((field, i) => {
      if (field.dataTypeID === PG_CHAR_OID) {
        field.dataTypeID = PG_TEXT_OID;
        indexes.push(i);
      }
    });
    if (indexes.length > 0) charColumns.set(r!.rows, indexes);
  }
  return result;
}

/** pg.Client that relabels `"char"` columns as text (workaround 1). */
class CharRelabelingClient extends pg.Client {
  // pg's query() has many overloads (callback or promise); patch the result in both styles.
  // One variadic override stands for all of them, which TypeScript accepts only with `any` in
  // the signature (each overload returns something else); the body works on checked values.
  override query(...args: any[]): any {
    const params: unknown[] = args;
    const cbIndex = params.findIndex((a) => typeof a === "function");
    const cb = params[cbIndex];
    if (typeof cb === "function") {
      params[cbIndex] = (err: unknown, res: unknown) => cb(err, err ? res : relabelChar(res));
      return Reflect.apply(super.query, this, params);
    }
    const ret: unknown = Reflect.apply(super.query, this, params);
    return isThenable(ret) ? ret.then(relabelChar) : ret;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && "then" in value && typeof value.then === "function";
}

/** Make `queryable.queryRaw` report the relabeled "char" columns as Character. */
function reportCharColumns(queryable: SqlQueryable): void {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const i of charColumns.get(result.rows) ?? []) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
}

type Adapter = Awaited<ReturnType<PrismaPg["connect"]>>;

/** Connect with the stock adapter, then patch in the fixes above. */
async function connect(config: pg.PoolConfig): Promise<Adapter> {
  const adapter = await new PrismaPg({ ...config, Client: CharRelabelingClient }).connect();
  reportCharColumns(adapter);
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) => {
    const tx = await startTransaction(isolationLevel);
    reportCharColumns(tx);
    return tx;
  };
  adapter.executeScript = async (script: string) => {
    try {
      await adapter.underlyingDriver().query(script);
    } catch (error) {
      throw toDriverAdapterError(error);
    }
  };
  return adapter;
}

// Same shape as adapter-pg's fallback mapping, so the engine gets a proper
// database error (code + message) instead of an opaque JS exception.
function toDriverAdapterError(error: unknown): unknown {
  const e = error as pg.DatabaseError;
  if (typeof e?.code !== "string" || typeof e?.severity !== "string") return error;
  return new DriverAdapterError({
    kind: "postgres",
    code: e.code,
    severity: e.severity,
    message: e.message,
    detail: e.detail,
    column: e.column,
    hint: e.hint,
  });
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface MigrationAdapterFactory extends SqlMigrationAwareDriverAdapterFactory {
  /** Close every connection this factory opened and drop the shadow databases it created. */
  close(): Promise<void>;
}

/**
 * Adapter factory for the database at `databaseUrl`. Shadow databases are created
 * on the same server on demand, one per request. With `isolated`, the engine's main
 * connection also goes to a fresh throwaway database, so the engine runs nothing in
 * the database named in `databaseUrl` (only the admin connection that issues
 * CREATE/DROP DATABASE may sit in it). Call `close()` once the engine is done (it
 * also drops the throwaway databases).
 */
export function createAdapterFactory(databaseUrl: string, { isolated = false } = {}): MigrationAdapterFactory {
  // Explicit fields, no `connectionString` key: safe to override `database` (workaround 2).
  const serverConfig = parseIntoClientConfig(databaseUrl) as pg.PoolConfig;
  delete serverConfig.connectionString;

  let admin: Promise<pg.Client> | undefined;
  const throwaway: string[] = []; // databases we created and must drop
  const adapters: Adapter[] = [];

  async function connectToThrowawayDb(): Promise<Adapter> {
    admin ??= connectAdmin(serverConfig);
    const database = `prisma_shadow_${Date.now()}_${randomBytes(4).toString("hex")}`;
    await (await admin).query(`CREATE DATABASE ${quoteIdent(database)}`);
    throwaway.push(database);

    const adapter = await connect({ ...serverConfig, database });
    adapters.push(adapter);
    // Belt and braces against the trap described in workaround 2.
    const { rows } = await adapter.underlyingDriver().query("SELECT current_database() AS db");
    if (rows[0]?.db !== database) {
      throw new Error(`shadow connection reached database "${rows[0]?.db}" instead of "${database}"`);
    }
    return adapter;
  }

  return {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",

    async connect() {
      if (isolated) return connectToThrowawayDb();
      const adapter = await connect(serverConfig);
      adapters.push(adapter);
      return adapter;
    },

    connectToShadowDb: connectToThrowawayDb,

    async close() {
      // The engine disposes some of its connections itself; close all pools anyway
      // (a second end() just rejects, which we ignore) before dropping databases.
      await Promise.allSettled(adapters.map((a) => a.dispose()));
      adapters.length = 0;
      if (!admin) return;
      const client = await admin;
      try {
        while (throwaway.length > 0) {
          // WITH (FORCE) (PostgreSQL 13+) terminates any straggling session.
          await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(throwaway[0]!)} WITH (FORCE)`);
          throwaway.shift();
        }
      } finally {
        admin = undefined;
        await client.end();
      }
    },
  };
}

/**
 * Admin connection for CREATE/DROP DATABASE: to the database in the URL, or to the
 * `postgres` maintenance database when that one does not exist (yet).
 */
async function connectAdmin(config: pg.ClientConfig): Promise<pg.Client> {
  for (const database of [config.database, "postgres"]) {
    const client = new pg.Client({ ...config, database });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if ((error as pg.DatabaseError).code !== "3D000" || database === "postgres") throw error; // 3D000: no such database
    }
  }
  throw new Error("unreachable");
}

/**
 * Create the database named in `databaseUrl` if it does not exist (what `prisma
 * migrate deploy` does too). Returns true when it was created.
 */
export async function ensureDatabaseExists(databaseUrl: string): Promise<boolean> {
  const config = parseIntoClientConfig(databaseUrl) as pg.ClientConfig;
  delete config.connectionString;
  if (!config.database) throw new Error("the database URL names no database");

  const admin = await connectAdmin(config);
  try {
    const { rowCount } = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [config.database]);
    if (rowCount) return false;
    await admin.query(`CREATE DATABASE ${quoteIdent(config.database)}`);
    return true;
  } catch (error) {
    // Created concurrently: 42P04 duplicate_database, or 23505 when both CREATEs got past the check.
    if (["42P04", "23505"].includes((error as pg.DatabaseError).code ?? "")) return false;
    throw error;
  } finally {
    await admin.end();
  }
}
