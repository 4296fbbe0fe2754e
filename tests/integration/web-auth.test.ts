// Sign up, log in, log out and login rate limiting, through the real pages over HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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

function post(path: string, fields: Record<string, string>, cookie?: string) {
  return fetch(`${web.url}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(fields),
  });
}
const get = (path: string, cookie?: string) => fetch(`${web.url}${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
const cookieOf = (res: Response) => res.headers.get("set-cookie")!.split(";")[0]!;

/** An account of the test's own (tests run in any order; none relies on another's user). */
async function account(label: string) {
  const email = `${label}-${Math.random().toString(36).slice(2)}@example.com`;
  const password = `${label}'s long password`;
  expect((await post("/signup", { email, password })).status).toBe(302);
  return { email, password };
}

describe("accounts", () => {
  it("signs up with an argon2id-hashed password and an httpOnly, SameSite session cookie", async () => {
    const res = await post("/signup", { email: "Alice@Example.com", password: "correct horse battery" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/");
    const setCookie = res.headers.get("set-cookie")!;
    expect(setCookie).toMatch(/^bf_session=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);

    const user = await db.user.findUniqueOrThrow({ where: { email: "alice@example.com" } });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    expect(user.passwordHash).not.toContain("correct horse");

    const home = await get("/", cookieOf(res));
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain("alice@example.com");
    expect(html).toContain("No servers yet");
  });

  it("rejects a short password and a taken email with field errors", async () => {
    const short = await post("/signup", { email: "bob@example.com", password: "short" });
    expect(short.status).toBe(400);
    expect(await short.text()).toContain("Use at least 10 characters");
    const existing = await account("taken");
    // The same address in other capitals is the same account.
    const taken = await post("/signup", { email: existing.email.toUpperCase(), password: "another long password" });
    expect(taken.status).toBe(400);
    expect(await taken.text()).toContain("An account with this email already exists");
    expect(await db.user.count({ where: { email: "bob@example.com" } })).toBe(0);
    expect(await db.user.count({ where: { email: existing.email } })).toBe(1);
  });

  it("logs out: the old cookie no longer opens any page", async () => {
    const alice = await account("logout");
    const login = await post("/login", alice);
    expect(login.status).toBe(302);
    const cookie = cookieOf(login);
    expect((await get("/", cookie)).status).toBe(200);
    const out = await post("/logout", {}, cookie);
    expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/i);
    const after = await get("/", cookie);
    expect(after.status).toBe(302);
    expect(after.headers.get("location")).toMatch(/^\/login/);
  });

  it("never redirects off-site after login", async () => {
    const user = await account("next");
    const res = await post("/login", { ...user, next: "//evil.example/x" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/");
    // A same-site path is honoured (so the check above is not "always /").
    expect((await post("/login", { ...user, next: "/settings/tokens" })).headers.get("location")).toBe("/settings/tokens");
  });

  it("rate-limits failed logins per email, even when the right password finally comes", async () => {
    const carol = await account("carol");
    const alice = await account("alice");
    for (let i = 0; i < 5; i++) {
      const bad = await post("/login", { email: carol.email, password: `wrong-${i}` });
      expect(bad.status).toBe(401);
      expect(await bad.text()).toContain("Email or password is incorrect");
    }
    const blocked = await post("/login", carol);
    expect(blocked.status).toBe(429);
    expect(await blocked.text()).toContain("Too many failed login attempts");
    // Another account from the same address is not locked out by carol's failures.
    expect((await post("/login", alice)).status).toBe(302);
  });

  it("pages that need a user send a signed-out visitor to log in", async () => {
    for (const path of ["/", "/servers/new", "/settings/tokens", "/servers/some-id"]) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 302]);
      expect(res.headers.get("location")).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });
});
