// The packages API as the packages page uses it, over HTTP with API tokens: a generated secret
// is revealed to its owner only, on an explicit call, and never appears in any list or detail
// response (nor in what the process prints); each row says what still needs it and what its
// removal does; removing a package something still needs is refused with the reason.
// Rows and secrets are seeded in the database: what is on the server is not the point here
// (the Debian tests install these packages for real).
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { AppRouter } from "../../trpc/router";
import { setupTestEnv, startTestWeb, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let db: ReturnType<typeof import("../../core/db").db>;

beforeAll(async () => {
  env = await setupTestEnv();
  web = await startTestWeb();
  db = (await import("../../core/db")).db();
});
afterAll(async () => {
  await web?.close();
  if (env) await teardownTestEnv(env);
});

function httpClient(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${web.url}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}), transformer: superjson }),
    ],
  });
}

async function userWithToken(email: string) {
  const user = await db.user.create({ data: { email, passwordHash: "unused" } });
  const { createCaller } = await import("../../trpc/router");
  const session = createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${email}` } }, ip: "127.0.0.1" });
  const { token } = await session.tokens.create({ name: "cli" });
  return { user, session, api: httpClient(token) };
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string } | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof TRPCClientError) return { code: (e.data as { code?: string } | undefined)?.code, message: e.message };
    throw e;
  }
}

/** A server of `owner` with these package rows recorded as installed (active). */
async function serverWith(owner: Awaited<ReturnType<typeof userWithToken>>, rows: Array<{ type: string; variant?: string }>) {
  const server = await owner.api.servers.create.mutate({ name: "db-1", host: "192.0.2.20", sshPort: 22, sshUser: "root" });
  const { packageDefinition } = await import("../../catalogue");
  const ids: Record<string, string> = {};
  for (const { type, variant = "" } of rows) {
    const definition = packageDefinition(type)!;
    const name = variant ? definition.variants!.name(variant) : definition.name;
    const row = await db.serverPackage.create({ data: { serverId: server.id, type, name, variant, status: "active", version: "1.0" } });
    ids[variant ? `${type}-${variant}` : type] = row.id;
  }
  return { serverId: server.id, ids };
}

it("the owner reveals a package's generated secret; the value is in no list or detail response, and nothing prints it", async () => {
  const printed: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, "write").mockImplementation((chunk: unknown) => (printed.push(String(chunk)), true)),
  );
  try {
    const owner = await userWithToken("secret-owner@example.com");
    const { serverId, ids } = await serverWith(owner, [{ type: "redis" }, { type: "mariadb" }]);
    const { ensureSecrets } = await import("../../core/secrets");
    // As the install's plan generates it (mariadb's root password is not made yet).
    const { "redis.password": password } = await ensureSecrets(serverId, ["redis.password"]);
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);

    expect(await owner.api.packages.revealSecret.mutate({ id: ids.redis!, name: "redis.password" })).toEqual({
      name: "redis.password",
      value: password,
    });
    // The row offers the names of its stored secrets, never a value.
    const rows = await owner.api.packages.list.query({ serverId });
    expect(rows.map((r) => [r.type, r.secrets])).toEqual([
      ["redis", ["redis.password"]],
      ["mariadb", []],
    ]);
    const responses = [rows, await owner.api.servers.byId.query({ id: serverId }), await owner.api.servers.list.query()];
    for (const response of responses) expect(JSON.stringify(response)).not.toContain(password);
    expect(printed.join("")).not.toContain(password);

    // Not generated yet: said so, rather than an empty value.
    expect(await failure(owner.api.packages.revealSecret.mutate({ id: ids.mariadb!, name: "mariadb.root_password" }))).toEqual({
      code: "NOT_FOUND",
      message: "mariadb.root_password has not been generated yet: it is made when MariaDB (MySQL-compatible) is installed",
    });
    // A row opens its own package's secrets only, even one that is stored.
    expect(await failure(owner.api.packages.revealSecret.mutate({ id: ids.mariadb!, name: "redis.password" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
});

it("another user, their token, and no credentials get nothing: NOT_FOUND like every procedure on someone else's server", async () => {
  const owner = await userWithToken("secret-a@example.com");
  const other = await userWithToken("secret-b@example.com");
  const { serverId, ids } = await serverWith(owner, [{ type: "postgresql" }]);
  const { ensureSecrets } = await import("../../core/secrets");
  await ensureSecrets(serverId, ["postgresql.superuser_password"]);
  const reveal = { id: ids.postgresql!, name: "postgresql.superuser_password" };

  expect(await failure(other.api.packages.revealSecret.mutate(reveal))).toEqual({ code: "NOT_FOUND", message: "Not found" });
  await expect(other.session.packages.revealSecret(reveal)).rejects.toMatchObject({ code: "NOT_FOUND" }); // a signed-in session alike
  expect(await failure(httpClient().packages.revealSecret.mutate(reveal))).toMatchObject({ code: "UNAUTHORIZED" });
  expect(await failure(other.api.packages.list.query({ serverId }))).toMatchObject({ code: "NOT_FOUND" });
  expect(await owner.api.packages.revealSecret.mutate(reveal)).toMatchObject({ name: reveal.name });
});

it("each row says what still needs it and what its removal does; removing a package still needed is refused with the reason", async () => {
  const owner = await userWithToken("needs@example.com");
  const { serverId, ids } = await serverWith(owner, [{ type: "site_user" }, { type: "php", variant: "8.2" }, { type: "composer" }]);
  const byType = async () => Object.fromEntries((await owner.api.packages.list.query({ serverId })).map((r) => [r.name, r]));

  let rows = await byType();
  expect(rows["brokeforge"]!.requiredBy).toEqual(["PHP (php8.2)"]);
  expect(rows["php8.2"]!.requiredBy).toEqual(["Composer (composer)"]);
  expect(rows["composer"]!.requiredBy).toEqual([]);
  // The removal in its plan's own words, for this variant only.
  expect(rows["php8.2"]!.removal).toEqual([
    {
      label: "Removing PHP 8.2",
      steps: [
        "Deleting BrokeForge's PHP files",
        "Finishing any interrupted dpkg run",
        "Purging the php8.2 packages",
        "Keeping the current php command",
      ],
    },
  ]);

  expect(await failure(owner.api.packages.remove.mutate({ id: ids["php-8.2"]! }))).toEqual({
    code: "PRECONDITION_FAILED",
    message: "Can't remove PHP (php8.2): Composer (composer) still needs it. Remove it first.",
  });
  expect((await db.serverPackage.findUniqueOrThrow({ where: { id: ids["php-8.2"]! } })).status).toBe("active");
  expect(await db.operation.count({ where: { serverId } })).toBe(0);

  // With PHP 8.4 beside it, Composer still has a PHP: 8.2 is needed by nothing.
  await db.serverPackage.create({ data: { serverId, type: "php", name: "php8.4", variant: "8.4", status: "active" } });
  rows = await byType();
  expect([rows["php8.2"]!.requiredBy, rows["php8.4"]!.requiredBy]).toEqual([[], []]);
});
