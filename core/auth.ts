// Accounts, browser sessions, API tokens and login rate limiting.
import { hash, verify } from "@node-rs/argon2";
import { createCookie } from "@remix-run/node";
import { db } from "./db";
import { newToken, sha256 } from "./crypto";
import { webEnv } from "./env";

const SESSION_DAYS = 30;
export const API_TOKEN_PREFIX = "bf_";
const SESSION_TOKEN_PREFIX = "bfs_";

/** Failed logins allowed per window, per email and per client address. */
export const LOGIN_LIMITS = { windowMinutes: 15, perEmail: 5, perIp: 30 } as const;

export interface AuthUser {
  id: string;
  email: string;
}

let cookie: ReturnType<typeof createCookie> | undefined;
function sessionCookie() {
  const env = webEnv();
  cookie ??= createCookie("bf_session", {
    httpOnly: true,
    sameSite: "lax",
    path: "/",
    secure: env.PUBLIC_URL.startsWith("https://"),
    secrets: [env.SESSION_SECRET],
    maxAge: SESSION_DAYS * 24 * 3600,
  });
  return cookie;
}

// A fixed hash to verify against when the email is unknown, so timing does not reveal accounts.
let dummyHash: Promise<string> | undefined;

export class AuthError extends Error {
  constructor(
    message: string,
    readonly code: "INVALID_CREDENTIALS" | "RATE_LIMITED" | "EMAIL_TAKEN",
    readonly field?: string,
  ) {
    super(message);
  }
}

export async function signup(input: { email: string; password: string }): Promise<AuthUser> {
  const existing = await db().user.findUnique({ where: { email: input.email } });
  if (existing) throw new AuthError("An account with this email already exists", "EMAIL_TAKEN", "email");
  const passwordHash = await hash(input.password); // argon2id, library defaults (OWASP-level cost)
  try {
    return await db().user.create({ data: { email: input.email, passwordHash }, select: { id: true, email: true } });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002") throw new AuthError("An account with this email already exists", "EMAIL_TAKEN", "email");
    throw e;
  }
}

export async function login(input: { email: string; password: string; ip: string }): Promise<AuthUser> {
  const since = new Date(Date.now() - LOGIN_LIMITS.windowMinutes * 60_000);
  const [byEmail, byIp] = await Promise.all([
    db().loginAttempt.count({ where: { email: input.email, success: false, createdAt: { gte: since } } }),
    db().loginAttempt.count({ where: { ip: input.ip, success: false, createdAt: { gte: since } } }),
  ]);
  if (byEmail >= LOGIN_LIMITS.perEmail || byIp >= LOGIN_LIMITS.perIp) {
    throw new AuthError(`Too many failed login attempts. Try again in ${LOGIN_LIMITS.windowMinutes} minutes.`, "RATE_LIMITED");
  }
  const user = await db().user.findUnique({ where: { email: input.email } });
  dummyHash ??= hash("not-a-real-password");
  const ok = await verify(user?.passwordHash ?? (await dummyHash), input.password);
  await db().loginAttempt.create({ data: { email: input.email, ip: input.ip, success: ok && !!user } });
  if (!user || !ok) throw new AuthError("Email or password is incorrect", "INVALID_CREDENTIALS");
  return { id: user.id, email: user.email };
}

/** Starts a session and returns the Set-Cookie header value. */
export async function startSession(userId: string): Promise<string> {
  const { token, hash: id } = newToken(SESSION_TOKEN_PREFIX);
  await db().session.create({
    data: { id, userId, expiresAt: new Date(Date.now() + SESSION_DAYS * 24 * 3600_000) },
  });
  return sessionCookie().serialize(token);
}

/** Ends the session named by the cookie; returns the Set-Cookie header that clears it. */
export async function endSession(cookieHeader: string | null): Promise<string> {
  const token = await sessionCookie().parse(cookieHeader);
  if (typeof token === "string") {
    const sessionId = sha256(token);
    await db().session.deleteMany({ where: { id: sessionId } });
    sessionEnded(sessionId);
  }
  return sessionCookie().serialize("", { maxAge: 0 });
}

export interface Principal {
  user: AuthUser;
  via: { kind: "session"; sessionId: string } | { kind: "token"; tokenId: string };
}

export async function principalFromCookie(cookieHeader: string | null | undefined): Promise<Principal | null> {
  if (!cookieHeader) return null;
  const token = await sessionCookie().parse(cookieHeader);
  if (typeof token !== "string" || !token.startsWith(SESSION_TOKEN_PREFIX)) return null;
  const id = sha256(token);
  const session = await db().session.findUnique({ where: { id }, include: { user: true } });
  if (!session || session.expiresAt < new Date()) return null;
  return { user: { id: session.user.id, email: session.user.email }, via: { kind: "session", sessionId: id } };
}

export async function principalFromApiToken(token: string | null | undefined): Promise<Principal | null> {
  if (!token || !token.startsWith(API_TOKEN_PREFIX)) return null;
  const row = await db().apiToken.findUnique({ where: { tokenHash: sha256(token) }, include: { user: true } });
  if (!row || row.revokedAt) return null;
  // Last-used is informational; don't make every request wait for it.
  void db()
    .apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } })
    .catch(() => {});
  return { user: { id: row.user.id, email: row.user.email }, via: { kind: "token", tokenId: row.id } };
}

/** Resolves who is calling from an HTTP request: session cookie or `Authorization: Bearer`. */
export async function principalFromHeaders(headers: Headers): Promise<Principal | null> {
  const bearer = headers.get("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
  if (bearer) return principalFromApiToken(bearer);
  return principalFromCookie(headers.get("cookie"));
}

// Listeners (the ws handler) that close live sockets when a session ends or a token is revoked.
type RevocationListener = (via: Principal["via"]) => void;
const revocationListeners = new Set<RevocationListener>();
export function onRevocation(listener: RevocationListener): () => void {
  revocationListeners.add(listener);
  return () => revocationListeners.delete(listener);
}
function sessionEnded(sessionId: string) {
  for (const l of revocationListeners) l({ kind: "session", sessionId });
}
export function tokenRevoked(tokenId: string) {
  for (const l of revocationListeners) l({ kind: "token", tokenId });
}

export function newApiToken() {
  return newToken(API_TOKEN_PREFIX);
}
