// What the Node server hands every Remix loader/action. Routes reach the database, auth
// and tRPC only through this (not by importing *.server modules), so the Remix bundle and
// the server share one copy of their state (db pool, ws revocation listeners).
import type { AuthUser } from "../core/auth";
import type { createCaller } from "../trpc/router";

export type Api = ReturnType<typeof createCaller>;

export type BrokeForgeContext = {
  ip: string;
  /** tRPC caller acting as whoever the request's cookie/bearer token names. */
  api(request: Request): Promise<Api>;
  currentUser(request: Request): Promise<AuthUser | null>;
  auth: {
    signup(input: { email: string; password: string }): Promise<AuthUser>;
    login(input: { email: string; password: string; ip: string }): Promise<AuthUser>;
    /** Returns the Set-Cookie header value. */
    startSession(userId: string): Promise<string>;
    /** Returns the Set-Cookie header value that clears the cookie. */
    endSession(cookieHeader: string | null): Promise<string>;
  };
  temporalUiUrl: string;
};

declare module "@remix-run/server-runtime" {
  interface AppLoadContext extends BrokeForgeContext {}
}

// Single fetch: loaders/actions return plain data (typed through `data()`).
declare module "@remix-run/server-runtime" {
  interface Future {
    v3_singleFetch: true;
  }
}
