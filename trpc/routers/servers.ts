// Servers a user owns. Every procedure filters by the caller's user id; another user's
// server answers NOT_FOUND, never FORBIDDEN, so ids reveal nothing.
import { TRPCError } from "@trpc/server";
import { serverIdSchema, serverInputSchema } from "../../domain/schemas";
import { provisioningInputSchema } from "../../domain/roles";
import { db } from "../../core/db";
import { temporalUrl } from "../../core/temporal-links";
import { createServerWithKeys, authorizeKeyCommand } from "../../core/servers";
import { stopServerQueue } from "../../core/operations";
import { startTestConnection } from "../../core/test-connection";
import { provisioningViews } from "../../core/provisioning-view";
import { protectedProcedure, router } from "../init";

/** Fields safe to send to a browser: no credentials, ever. */
export const serverPublicSelect = {
  id: true,
  name: true,
  host: true,
  sshPort: true,
  sshUser: true,
  hostKeyFingerprint: true,
  hostKeyAlgorithm: true,
  connectionStatus: true,
  connectionError: true,
  osName: true,
  osVersion: true,
  kernel: true,
  osId: true,
  osRelease: true,
  osCodename: true,
  arch: true,
  cpuCount: true,
  memoryMb: true,
  diskTotalMb: true,
  diskFreeMb: true,
  swapMb: true,
  virtualization: true,
  packageOffers: true,
  variantOffers: true,
  lastConnectedAt: true,
  createdAt: true,
  updatedAt: true,
} as const;

const serverCreateSchema = serverInputSchema.extend({ provisioning: provisioningInputSchema.optional() });

async function ownedServer(userId: string, id: string) {
  const server = await db().server.findFirst({ where: { id, userId }, select: serverPublicSelect });
  if (!server) throw new TRPCError({ code: "NOT_FOUND", message: "Server not found" });
  return server;
}

export const serversRouter = router({
  /** My servers, each with the operation it is running (or the next queued one). */
  list: protectedProcedure.query(async ({ ctx }) => {
    const servers = await db().server.findMany({
      where: { userId: ctx.user.id },
      select: {
        ...serverPublicSelect,
        operations: {
          where: { state: { in: ["running", "queued"] } },
          orderBy: [{ state: "desc" }, { createdAt: "asc" }], // running sorts before queued
          take: 1,
          select: { id: true, kind: true, title: true, state: true, milestoneStep: true, milestoneTotal: true },
        },
        _count: { select: { operations: { where: { state: "queued" } } } },
      },
      orderBy: { createdAt: "desc" },
    });
    const provisioning = await provisioningViews(servers.map((s) => s.id));
    return servers.map(({ operations, _count, ...s }) => ({
      ...s,
      currentOperation: operations[0] ?? null,
      queued: _count.operations,
      /** Its role and where provisioning is (step, label, failure); null when none was chosen. */
      provisioning: provisioning.get(s.id) ?? null,
    }));
  }),

  byId: protectedProcedure.input(serverIdSchema).query(async ({ ctx, input }) => {
    const server = await ownedServer(ctx.user.id, input.id);
    const [credentials, operations, provisioning] = await Promise.all([
      db().serverCredential.findMany({
        where: { serverId: server.id },
        select: { kind: true, publicKey: true },
        orderBy: { kind: "asc" },
      }),
      db().operation.findMany({ where: { serverId: server.id }, orderBy: { createdAt: "desc" }, take: 10 }),
      provisioningViews([server.id]).then((views) => views.get(server.id) ?? null),
    ]);
    return {
      ...server,
      /** The role it is (being) provisioned as, its status and progress; null when none was chosen. */
      provisioning,
      publicKeys: credentials.map((c) => ({
        kind: c.kind,
        publicKey: c.publicKey,
        authorizeCommand: authorizeKeyCommand(c.publicKey),
      })),
      operations: operations.map((o) => ({
        id: o.id,
        kind: o.kind,
        title: o.title,
        state: o.state,
        errorLog: o.errorLog,
        createdAt: o.createdAt,
        startedAt: o.startedAt,
        finishedAt: o.finishedAt,
        temporalUrl: temporalUrl(o.workflowId, o.runId),
      })),
    };
  }),

  /** `provisioning`: the role (and PHP version, database engine) to provision it as once it connects. */
  create: protectedProcedure.input(serverCreateSchema).mutation(async ({ ctx, input }) => {
    const { provisioning, ...server } = input;
    const id = await createServerWithKeys(ctx.user.id, server, provisioning);
    return ownedServer(ctx.user.id, id);
  }),

  update: protectedProcedure.input(serverIdSchema.merge(serverInputSchema)).mutation(async ({ ctx, input }) => {
    const current = await ownedServer(ctx.user.id, input.id);
    const moved = current.host !== input.host || current.sshPort !== input.sshPort;
    await db().server.update({
      where: { id: current.id },
      data: {
        name: input.name,
        host: input.host,
        sshPort: input.sshPort,
        sshUser: input.sshUser,
        // A new address is (probably) a different machine: forget the pinned key and status.
        ...(moved || current.sshUser !== input.sshUser ? { connectionStatus: "unknown" as const, connectionError: null } : {}),
        ...(moved ? { hostKeyFingerprint: null, hostKeyAlgorithm: null } : {}),
      },
    });
    return ownedServer(ctx.user.id, current.id);
  }),

  /** Forget the pinned host key (after rebuilding a server); the next connection pins anew. */
  resetHostKey: protectedProcedure.input(serverIdSchema).mutation(async ({ ctx, input }) => {
    const server = await ownedServer(ctx.user.id, input.id);
    await db().server.update({
      where: { id: server.id },
      data: { hostKeyFingerprint: null, hostKeyAlgorithm: null, connectionStatus: "unknown", connectionError: null },
    });
    return ownedServer(ctx.user.id, server.id);
  }),

  remove: protectedProcedure.input(serverIdSchema).mutation(async ({ ctx, input }) => {
    const server = await ownedServer(ctx.user.id, input.id);
    await db().server.delete({ where: { id: server.id } });
    await stopServerQueue(server.id);
    return { id: server.id };
  }),

  testConnection: protectedProcedure.input(serverIdSchema).mutation(async ({ ctx, input }) => {
    const server = await ownedServer(ctx.user.id, input.id);
    return startTestConnection({ serverId: server.id, userId: ctx.user.id });
  }),
});
