// One Prisma client per process, on node-postgres through the driver adapter.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client";
import { sharedEnv } from "./env";

let client: PrismaClient | undefined;

export function db(): PrismaClient {
  client ??= new PrismaClient({
    adapter: new PrismaPg({ connectionString: sharedEnv().DATABASE_URL }),
    // A transaction waits for one of the pool's 10 connections. Prisma's default of 2 s turned a
    // burst (200 rules created at once, tests/integration/engine-serialization.test.ts, on a
    // loaded 2-core machine) into "Unable to start a transaction in the given time" errors for
    // users; queueing a little longer is the right answer to a burst.
    transactionOptions: { maxWait: 15_000, timeout: 30_000 },
  });
  return client;
}

export async function disconnectDb(): Promise<void> {
  await client?.$disconnect();
  client = undefined;
}

export type { PrismaClient };
