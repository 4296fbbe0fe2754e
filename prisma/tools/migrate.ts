// Offline replacement for `prisma migrate deploy | dev --create-only | status`
// (the Prisma 7 CLI wants to download the native schema engine first).
//
//   tsx prisma/tools/migrate.ts deploy            apply pending migrations to DATABASE_URL
//   tsx prisma/tools/migrate.ts create <name>     write prisma/migrations/<timestamp>_<name>/migration.sql
//   tsx prisma/tools/migrate.ts status            compare prisma/migrations with DATABASE_URL
//
// Options: --schema <file> (default prisma/schema.prisma), --migrations <dir> (default prisma/migrations).
// `create` only uses DATABASE_URL's server for throwaway shadow databases; the database itself is not touched.

import path from "node:path";
import { parseArgs } from "node:util";
import { applyMigrations, createMigration, migrationStatus, type MigrateOptions } from "./engine";

const USAGE = "usage: tsx prisma/tools/migrate.ts <deploy | create <name> | status> [--schema file] [--migrations dir]";

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { schema: { type: "string" }, migrations: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [command, name] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }

  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error("DATABASE_URL is not set (e.g. postgres://user:password@127.0.0.1:5432/brokeforge).");
    return 2;
  }
  const opts: MigrateOptions = { databaseUrl, schemaPath: values.schema, migrationsDir: values.migrations };

  switch (command) {
    case "deploy": {
      const { applied, edited } = await applyMigrations(opts);
      for (const m of edited) console.warn(`warning: migration ${m} was modified after it was applied`);
      if (applied.length === 0) console.log("No pending migrations to apply.");
      else console.log(`Applied ${applied.length} migration(s):\n${applied.map((m) => `  ${m}`).join("\n")}`);
      return 0;
    }
    case "create": {
      if (!name) {
        console.error(`missing migration name\n${USAGE}`);
        return 2;
      }
      const created = await createMigration({ ...opts, name });
      if (!created.path) console.log("No changes: the schema matches the migrations; nothing written.");
      else console.log(`Created ${path.relative(process.cwd(), created.path)}`);
      return 0;
    }
    case "status": {
      const s = await migrationStatus(opts);
      console.log(`${s.local.length} migration(s) found in the migrations directory.`);
      for (const m of s.pending) console.log(`pending:          ${m}`);
      for (const m of s.failed) console.log(`failed:           ${m}`);
      for (const m of s.missingLocally) console.log(`not in directory: ${m}`);
      for (const m of s.edited) console.log(`edited:           ${m}`);
      console.log(s.upToDate ? "Database schema is up to date." : "Database is NOT up to date.");
      return s.upToDate ? 0 : 1;
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

// A schema engine panic also surfaces as an uncaught `RuntimeError: unreachable`
// (see wasm-engine.ts); the failing command reports the panic message itself.
process.on("uncaughtException", (error) => {
  if (error instanceof WebAssembly.RuntimeError) return;
  console.error(error);
  process.exit(1);
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const command = process.argv[2] ?? "";
    console.error(`migrate ${command} failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
