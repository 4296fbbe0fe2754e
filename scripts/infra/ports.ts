import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it; tiny race if someone grabs it first). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Calls `attempt` until it resolves or `timeoutMs` passes; rethrows the last error with `what` for context.
 * `abort` lets a caller stop waiting early, e.g. when the child process it waits for has exited.
 */
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T>,
  { timeoutMs = 60_000, intervalMs = 200, abort }: { timeoutMs?: number; intervalMs?: number; abort?: () => Error | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const aborted = abort?.();
    if (aborted) throw aborted;
    try {
      return await attempt();
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}: ${(err as Error)?.message ?? err}`, { cause: err });
      }
    }
    await sleep(intervalMs);
  }
}

/** A port a process is about to listen on, named for the message when it is taken. */
export interface PortClaim {
  port: number;
  /** Address it will bind; default 127.0.0.1. */
  host?: string;
  /** What listens there, e.g. "web app". */
  what: string;
  /** The env var that moves it, for the hint. */
  env?: string;
}

export class PortsInUseError extends Error {}

/**
 * Fails, naming each port and who holds it, when any claimed port is already bound. `npm run dev`
 * calls this before starting anything: otherwise a second PostgreSQL or Temporal silently loses
 * the bind while the app talks to whatever already answers on that port.
 */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, host = "127.0.0.1", what, env } of claims) {
    const hint = env ? ` (set ${env} to use another port)` : "";
    const twice = seen.get(port);
    if (twice) {
      problems.push(`  port ${port} is configured for both ${twice} and ${what}${hint}`);
      continue;
    }
    seen.set(port, what);
    const error = await tryListen(port, host);
    if (!error) continue;
    if (error === "EADDRINUSE") {
      const holder = await portHolder(port);
      problems.push(
        `  port ${port} (${what}) is already in use by ${holder ?? "another process (run `ss -ltnp` as root to see which)"}${hint}`,
      );
    } else {
      problems.push(`  port ${port} (${what}) on ${host} cannot be used: ${error}${hint}`);
    }
  }
  if (problems.length) throw new PortsInUseError(`Cannot start: ports in use\n${problems.join("\n")}`);
}

/** undefined when `host:port` could be bound just now, else the error code. */
function tryListen(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Who listens on a TCP port, from `ss -ltnp`, e.g. `postgres (pid 123: /usr/lib/postgresql/…)`.
 * undefined when ss is missing or may not tell (another user's process, without root).
 */
export async function portHolder(port: number): Promise<string | undefined> {
  const stdout = await new Promise<string>((resolve) =>
    execFile("ss", ["-H", "-l", "-t", "-n", "-p", "sport", "=", `:${port}`], (err, out) => resolve(err ? "" : out)),
  );
  const holders = new Set<string>();
  for (const [, name, pid] of stdout.matchAll(/\("([^"]*)",pid=(\d+)/g)) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").then(
      (c) => c.split("\0").filter(Boolean).join(" ").slice(0, 120),
      () => "",
    );
    holders.add(`${name} (pid ${pid}${cmdline ? `: ${cmdline}` : ""})`);
  }
  return holders.size ? [...holders].join(", ") : undefined;
}
