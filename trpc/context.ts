// Who is calling. An API token (Authorization: Bearer, or `token` in ws connection params)
// or the session cookie (HTTP requests and the ws upgrade request).
import type { IncomingMessage } from "node:http";
import { principalFromApiToken, principalFromCookie, type Principal } from "../core/auth";

export interface Context {
  principal: Principal | null;
  ip: string;
}

function bearer(authorization: string | null | undefined): string | null {
  return authorization?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? null;
}

async function resolve(token: string | null, cookie: string | null | undefined): Promise<Principal | null> {
  if (token) return principalFromApiToken(token);
  return principalFromCookie(cookie);
}

/** A Fetch API request (Remix loaders/actions). */
export async function contextFromRequest(request: Request, ip: string): Promise<Context> {
  return { principal: await resolve(bearer(request.headers.get("authorization")), request.headers.get("cookie")), ip };
}

/** A Node request: tRPC over HTTP, or the ws upgrade with its connection params. */
export async function contextFromNode(
  req: IncomingMessage,
  connectionParams?: Record<string, string | undefined> | null,
): Promise<Context> {
  const token = connectionParams?.token ?? bearer(req.headers.authorization);
  return { principal: await resolve(token, req.headers.cookie), ip: req.socket.remoteAddress ?? "unknown" };
}
