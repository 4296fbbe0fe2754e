// The one place a Server row becomes the kit's ServerFacts: what plan builders and create hooks
// may know about a server (never its private keys). tRPC (trpc/procedures.ts) and the engine
// (activities/plans.ts) both select `serverFactsSelect` and call `toServerFacts`, so a fact
// added to ServerFacts is added here once and both see it.
import type { OsFacts, ServerFacts } from "../catalogue/kit";
import type { Prisma } from "../generated/prisma/client";
import { db, type PrismaClient } from "./db";

export const serverFactsSelect = {
  id: true,
  sshPort: true,
  sshUser: true,
  osId: true,
  osRelease: true,
  osCodename: true,
  memoryMb: true,
  variantOffers: true,
  // Only the public half of the site user's key: plans authorize it on the server.
  credentials: { where: { kind: "brokeforge" }, select: { publicKey: true } },
} as const satisfies Prisma.ServerSelect;

export type ServerFactsRow = Prisma.ServerGetPayload<{ select: typeof serverFactsSelect }>;

export function toServerFacts(row: ServerFactsRow): ServerFacts {
  return {
    id: row.id,
    sshPort: row.sshPort,
    sshUser: row.sshUser,
    os: osFacts(row),
    memoryMb: row.memoryMb,
    variants: variantsOf(row.variantOffers),
    siteUserPublicKey: row.credentials[0]?.publicKey ?? null,
  };
}

/** The server's facts, or null when there is no such server. */
export async function loadServerFacts(
  serverId: string,
  client: Pick<PrismaClient, "server"> | Prisma.TransactionClient = db(),
): Promise<ServerFacts | null> {
  const row = await client.server.findUnique({ where: { id: serverId }, select: serverFactsSelect });
  return row ? toServerFacts(row) : null;
}

// null until a connection test has read os-release (a server without VERSION_ID, e.g. Debian
// testing, has no release to plan for either).
function osFacts(row: Pick<ServerFactsRow, "osId" | "osRelease" | "osCodename">): OsFacts | null {
  if (!row.osId || !row.osRelease) return null;
  return { id: row.osId, release: row.osRelease, codename: row.osCodename ?? "" };
}

// The column is JSON written by recordConnectionOutcome; anything not of the expected shape
// (an older row, a hand edit) counts as "offers nothing" rather than reaching a plan builder.
function variantsOf(value: Prisma.JsonValue): Record<string, string[]> {
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  const out: Record<string, string[]> = {};
  for (const [type, variants] of Object.entries(value)) {
    if (Array.isArray(variants)) out[type] = variants.filter((v): v is string => typeof v === "string");
  }
  return out;
}
