// Prisma 7 CLI configuration (used by `prisma generate`; migrations run through
// prisma/tools/migrate.ts because the CLI can't fetch its native schema engine here).
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  // Plain process.env rather than env(): env() throws when the variable is unset,
  // and `prisma generate` must work without a database.
  datasource: { url: process.env.DATABASE_URL },
});
