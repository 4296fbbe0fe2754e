// Sessions that have expired, and the per-address login limit, through the real web server
// over HTTP (pages and tRPC), as a browser or a script would meet them.
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_LIMITS } from "../../core/auth";
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

interface Reply {
  status: number;
  location: string | undefined;
  setCookie: string | undefined;
  body: string;
}

/**
 * One HTTP request from a chosen local address: every 127.0.0.0/8 address reaches the
 * server on 127.0.0.1, and the server sees it as the client's IP.
 */
function request(path: string, opts: { from?: string; form?: Record<string, string>; cookie?: string; json?: boolean } = {}) {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : undefined;
  const url = new URL(path, web.url);
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: body ? "POST" : "GET",
        localAddress: opts.from ?? "127.0.0.1",
        headers: {
          ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          ...(opts.cookie ? { cookie: opts.cookie } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            location: res.headers.location,
            setCookie: res.headers["set-cookie"]?.[0],
            body: text,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const unique = (label: string) => `${label}-${Math.random().toString(36).slice(2)}@example.com`;

async function signedUp(label: string) {
  const email = unique(label);
  const password = "a long enough password";
  const res = await request("/signup", { form: { email, password } });
  expect(res.status).toBe(302);
  return { email, password, cookie: res.setCookie!.split(";")[0]! };
}

describe("session expiry", () => {
  it("an expired session opens no page and no API call; the same session before expiry does", async () => {
    const { email, cookie } = await signedUp("expiry");
    // Before: the session works, on a page and on the API.
    expect((await request("/", { cookie })).status).toBe(200);
    const meBefore = await request("/trpc/auth.me", { cookie });
    expect(meBefore.body).toContain(email);

    const user = await db.user.findUniqueOrThrow({ where: { email } });
    const { count } = await db.session.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(count).toBe(1);

    const page = await request("/servers/new", { cookie });
    expect(page.status).toBe(302);
    expect(page.location).toBe(`/login?next=${encodeURIComponent("/servers/new")}`);
    const me = await request("/trpc/auth.me", { cookie });
    expect(me.status).toBe(200);
    expect(me.body).not.toContain(email);
    expect(JSON.parse(me.body)).toMatchObject({ result: { data: { json: null } } });
    const list = await request("/trpc/servers.list", { cookie });
    expect(list.status).toBe(401);
    expect(list.body).toContain("UNAUTHORIZED");
  });
});

describe("login limit per client address", () => {
  it(`after ${LOGIN_LIMITS.perIp} failed logins from one address it refuses even a right password there, and another address still gets in`, async () => {
    const { email, password } = await signedUp("per-ip");
    // Distinct unknown emails, so only the per-address count can reach its limit (the
    // per-email one is 5). The addresses are this test's own: no other test logs in from them.
    const attacker = `127.0.${Math.floor(Math.random() * 200) + 20}.${Math.floor(Math.random() * 200) + 20}`;
    for (let i = 0; i < LOGIN_LIMITS.perIp; i++) {
      const bad = await request("/login", { from: attacker, form: { email: unique(`guess${i}`), password: "wrong password" } });
      expect([i, bad.status]).toEqual([i, 401]);
    }
    const blocked = await request("/login", { from: attacker, form: { email, password } });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toContain(`Too many failed login attempts. Try again in ${LOGIN_LIMITS.windowMinutes} minutes.`);
    expect(blocked.setCookie).toBeUndefined();

    const elsewhere = await request("/login", { from: "127.0.0.1", form: { email, password } });
    expect(elsewhere.status).toBe(302);
    expect(elsewhere.setCookie).toMatch(/^bf_session=/);
  });
});
