// The API as an outsider sees it over HTTP and ws: ownership, secrets, validation, tokens.
import { createTRPCClient, createWSClient, httpLink, TRPCClientError, wsLink } from "@trpc/client";
import superjson, { type SuperJSONResult } from "superjson";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../trpc/router";
import { setupTestEnv, startTestWeb, teardownTestEnv, type TestEnv } from "../setup/app";

let env: TestEnv;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let db: ReturnType<typeof import("../../core/db").db>;
let caller: typeof import("../../trpc/router").createCaller;

beforeAll(async () => {
  env = await setupTestEnv();
  web = await startTestWeb();
  db = (await import("../../core/db")).db();
  caller = (await import("../../trpc/router")).createCaller;
});
afterAll(async () => {
  await web?.close();
  if (env) await teardownTestEnv(env);
});

async function userWithToken(email: string) {
  const user = await db.user.create({ data: { email, passwordHash: "unused" } });
  const api = caller({ principal: { user, via: { kind: "session", sessionId: `s-${email}` } }, ip: "127.0.0.1" });
  const { token, id: tokenId } = await api.tokens.create({ name: "cli" });
  return { user, api, token, tokenId };
}

function httpClient(token?: string) {
  return createTRPCClient<AppRouter>({
    links: [
      httpLink({ url: `${web.url}/trpc`, headers: () => (token ? { authorization: `Bearer ${token}` } : {}), transformer: superjson }),
    ],
  });
}

function wsClient(token: string, onClose?: (code?: number) => void) {
  const client = createWSClient({
    url: `${web.url.replace("http", "ws")}/trpc`,
    connectionParams: { token },
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 60_000, // don't reconnect during the test
    onClose: (cause) => onClose?.(cause?.code),
  });
  return { client, trpc: createTRPCClient<AppRouter>({ links: [wsLink({ client, transformer: superjson })] }) };
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof TRPCClientError) return e.data?.code;
    throw e;
  }
}

describe("secrets", () => {
  it("never returns private keys; the stored column is AES-GCM ciphertext that decrypts to the pair", async () => {
    const { token } = await userWithToken("keys@example.com");
    const api = httpClient(token);
    const created = await api.servers.create.mutate({ name: "db-1", host: "10.1.2.3", sshPort: 22, sshUser: "root" });
    const detail = await api.servers.byId.query({ id: created.id });
    const responses = [
      created,
      await api.servers.list.query(),
      detail,
      await api.servers.update.mutate({ id: created.id, name: "db-2", host: "10.1.2.4", sshPort: 2222, sshUser: "deploy" }),
      await api.servers.resetHostKey.mutate({ id: created.id }),
    ];
    const rows = await db.serverCredential.findMany({ where: { serverId: created.id } });
    expect(rows.map((r) => r.kind).sort()).toEqual(["brokeforge", "root"]);

    const { decryptSecret } = await import("../../core/crypto");
    const { publicKeyOfPrivateKey } = await import("../../activities/ssh/keys");
    for (const row of rows) {
      expect(row.privateKeyEncrypted).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
      expect(row.privateKeyEncrypted).not.toContain("PRIVATE KEY");
      const plain = decryptSecret(row.privateKeyEncrypted, `server:${created.id}:credential:${row.kind}`);
      expect(plain).toContain("BEGIN OPENSSH PRIVATE KEY");
      expect(publicKeyOfPrivateKey(plain).split(" ").slice(0, 2)).toEqual(row.publicKey.split(" ").slice(0, 2));
      // Bound to its row: the same ciphertext under another server's id does not decrypt.
      expect(() => decryptSecret(row.privateKeyEncrypted, `server:other:credential:${row.kind}`)).toThrow();
      const body = JSON.stringify(responses);
      const keyBody = plain.split("\n").slice(1, -2).join("");
      expect(body).not.toContain("PRIVATE KEY");
      expect(body).not.toContain(keyBody.slice(0, 40));
      expect(body).not.toContain(row.privateKeyEncrypted);
    }
    expect(detail.publicKeys.map((k) => k.kind).sort()).toEqual(["brokeforge", "root"]);
    expect(detail.publicKeys[0]!.publicKey).toMatch(/^ssh-ed25519 AAAA/);
    expect(detail.publicKeys.find((k) => k.kind === "root")!.authorizeCommand).toContain(">> ~/.ssh/authorized_keys");
  });
});

describe("ownership", () => {
  it("user B gets NOT_FOUND for user A's server on every procedure, and A's data is untouched", async () => {
    const a = await userWithToken("a@example.com");
    const b = await userWithToken("b@example.com");
    const server = await a.api.servers.create({ name: "a-server", host: "192.0.2.10", sshPort: 22, sshUser: "root" });
    const asB = httpClient(b.token);
    const id = server.id;
    const attempts: Record<string, () => Promise<unknown>> = {
      byId: () => asB.servers.byId.query({ id }),
      update: () => asB.servers.update.mutate({ id, name: "pwned", host: "192.0.2.66", sshPort: 22, sshUser: "root" }),
      resetHostKey: () => asB.servers.resetHostKey.mutate({ id }),
      remove: () => asB.servers.remove.mutate({ id }),
      testConnection: () => asB.servers.testConnection.mutate({ id }),
      revokeToken: () => asB.tokens.revoke.mutate({ id: a.tokenId }),
    };
    for (const [name, call] of Object.entries(attempts)) expect([name, await codeOf(call())]).toEqual([name, "NOT_FOUND"]);
    expect(await asB.servers.list.query()).toEqual([]);
    expect((await asB.tokens.list.query()).map((t) => t.name)).toEqual(["cli"]); // only B's own
    const still = await a.api.servers.byId({ id });
    expect(still).toMatchObject({ name: "a-server", host: "192.0.2.10", connectionStatus: "unknown" });
    expect(await db.operation.count({ where: { serverId: id } })).toBe(0);
    expect(await codeOf(httpClient(a.token).auth.whoami.query())).toBeUndefined();
  });

  it("without credentials every data procedure is UNAUTHORIZED", async () => {
    const anon = httpClient();
    expect(await codeOf(anon.servers.list.query())).toBe("UNAUTHORIZED");
    expect(await codeOf(anon.tokens.list.query())).toBe("UNAUTHORIZED");
    expect(await codeOf(httpClient("bf_not-a-real-token").servers.list.query())).toBe("UNAUTHORIZED");
    expect(await anon.auth.me.query()).toBeNull();
  });
});

describe("validation", () => {
  const base = { name: "ok", host: "10.0.0.1", sshPort: 22, sshUser: "root" };
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["bad host", { host: "not a host!" }, "host", /IP address or a host name/],
    ["host with shell characters", { host: "x;rm -rf /" }, "host", /IP address or a host name/],
    ["out-of-range IPv4", { host: "300.1.1.1" }, "host", /IP address or a host name/],
    ["port 0", { sshPort: 0 }, "sshPort", /between 1 and 65535/],
    ["port 70000", { sshPort: 70000 }, "sshPort", /between 1 and 65535/],
    ["empty name", { name: "  " }, "name", /required/],
    ["10 KB name", { name: "x".repeat(10_000) }, "name", /at most 64/],
    ["bad login user", { sshUser: "root; id" }, "sshUser", /login name/],
  ];
  it.each(cases)("%s gets a field-level error and creates nothing", async (_label, patch, field, message) => {
    const { token, user } = await userWithToken(`v-${Math.random()}@example.com`);
    const err = await httpClient(token)
      .servers.create.mutate({ ...base, ...patch } as typeof base)
      .catch((e) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect(err.data.code).toBe("BAD_REQUEST");
    expect(err.data.fieldErrors[field]).toMatch(message);
    expect(await db.server.count({ where: { userId: user.id } })).toBe(0);
  });

  it("accepts IPv6 addresses and host names", async () => {
    const { api } = await userWithToken("v6@example.com");
    await expect(api.servers.create({ ...base, host: "2001:db8::1" })).resolves.toMatchObject({ host: "2001:db8::1" });
    await expect(api.servers.create({ ...base, host: "web-1.example.com" })).resolves.toMatchObject({ host: "web-1.example.com" });
  });
});

describe("API tokens", () => {
  it("work over HTTP and ws, are stored hashed, and stop working (sockets closed) once revoked", async () => {
    const { api, token, tokenId, user } = await userWithToken("tokens@example.com");
    const stored = await db.apiToken.findUniqueOrThrow({ where: { id: tokenId } });
    expect(stored.tokenHash).not.toContain(token);
    expect(JSON.stringify(await api.tokens.list())).not.toContain(token);

    expect(await httpClient(token).auth.whoami.query()).toEqual({ id: user.id, email: user.email });
    let closedWith: number | undefined;
    const ws = wsClient(token, (code) => (closedWith = code));
    expect(await ws.trpc.auth.whoami.query()).toEqual({ id: user.id, email: user.email });

    await api.tokens.revoke({ id: tokenId });
    expect(await codeOf(httpClient(token).auth.whoami.query())).toBe("UNAUTHORIZED");
    await expect.poll(() => closedWith, { timeout: 5000 }).toBe(4001);
    ws.client.close();

    const again = wsClient(token);
    expect(await codeOf(again.trpc.auth.whoami.query())).toBe("UNAUTHORIZED");
    again.client.close();
  });

  it("logging out closes that session's WebSocket", async () => {
    const signup = await fetch(`${web.url}/signup`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "logout-ws@example.com", password: "long enough password" }),
    });
    const cookie = signup.headers.get("set-cookie")!.split(";")[0]!;
    const sock = new WebSocket(`${web.url.replace("http", "ws")}/trpc`, { headers: { cookie, origin: web.url } });
    await new Promise((r) => sock.once("open", r));
    // The wire format is superjson's ({ json, meta? }) both ways, as the tRPC links send it.
    sock.send(JSON.stringify({ id: 1, method: "query", params: { path: "auth.whoami", input: superjson.serialize(undefined) } }));
    const first = JSON.parse(String(await new Promise((r) => sock.once("message", r)))) as { result: { data: SuperJSONResult } };
    expect(superjson.deserialize<{ email: string }>(first.result.data).email).toBe("logout-ws@example.com");
    const closed = new Promise<number>((r) => sock.once("close", (code) => r(code)));
    await fetch(`${web.url}/logout`, { method: "POST", redirect: "manual", headers: { cookie } });
    expect(await closed).toBe(4001);
  });

  it("a WebSocket from a foreign Origin is refused", async () => {
    const status = await new Promise<number | string>((resolve) => {
      const sock = new WebSocket(`${web.url.replace("http", "ws")}/trpc`, { headers: { origin: "https://evil.example" } });
      sock.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      sock.on("open", () => resolve("open"));
      sock.on("error", (e) => resolve(e.message));
    });
    expect(status).toBe(403);
  });
});
