// What every ops command shares: configuration from the environment, the API client (made on
// first use, so `help` needs no token), errors with their exit codes, and output helpers.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { TRPCClientError } from "@trpc/client";
import { ALL_KINDS } from "../../catalogue";
import { createBrokeForgeClient, type BrokeForgeClient } from "../../trpc/client";

export const DEFAULT_URL = "http://127.0.0.1:3000";

/** Bad command line: printed with a hint to `help`, exit code 2. */
export class UsageError extends Error {}
/** Missing or bad configuration: exit code 1. */
export class ConfigError extends Error {}

export interface Ctx {
  url: string;
  /** The API client, created (and BROKEFORGE_TOKEN checked) on first call. */
  api(): BrokeForgeClient;
}

export function createCtx(env: NodeJS.ProcessEnv = process.env): Ctx & { close(): void } {
  const url = env.BROKEFORGE_URL?.trim() || DEFAULT_URL;
  let client: BrokeForgeClient | null = null;
  return {
    url,
    api() {
      if (client) return client;
      const token = env.BROKEFORGE_TOKEN?.trim();
      if (!token) {
        throw new ConfigError(
          "BROKEFORGE_TOKEN is not set. Create an API token in BrokeForge (Settings → API tokens) and run:\n" +
            "  export BROKEFORGE_TOKEN=bf_…",
        );
      }
      try {
        client = createBrokeForgeClient({ url, token });
      } catch (e) {
        throw new ConfigError(`BROKEFORGE_URL is not usable (${url}): ${(e as Error).message}`);
      }
      return client;
    },
    close() {
      client?.close();
    },
  };
}

/** node:util parseArgs with strict options; its errors become usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Exactly `names.length` positionals, named for the error message. */
export function positionals(got: string[], ...names: string[]): string[] {
  if (got.length < names.length)
    throw new UsageError(
      `Missing ${names
        .slice(got.length)
        .map((n) => `<${n}>`)
        .join(" ")}`,
    );
  if (got.length > names.length) throw new UsageError(`Unexpected argument: ${got[names.length]}`);
  return got;
}

// How API field names map to command-line flags, for validation messages: the kinds' own
// fields (their definitions name the flags), then the fixed commands'.
const FLAG_OF: Record<string, string> = Object.assign(
  {},
  ...ALL_KINDS.map((kind) => Object.fromEntries(kind.fields.map((f) => [f.key, `--${f.flag ?? f.key}`]))),
  { limit: "--limit", lastEventId: "--since", serverId: "<serverId>", id: "<id>" },
);

/** Prints an error for a human (stderr) and returns the exit code. */
export function reportError(e: unknown, url: string): number {
  if (e instanceof UsageError) {
    console.error(`error: ${e.message}\nRun \`npm run ops -- help\` for usage.`);
    return 2;
  }
  if (e instanceof ConfigError) {
    console.error(`error: ${e.message}`);
    return 1;
  }
  if (e instanceof TRPCClientError) {
    const data = e.data as { code?: string; fieldErrors?: Record<string, string> | null } | undefined;
    const fieldErrors = Object.entries(data?.fieldErrors ?? {});
    if (fieldErrors.length > 0) {
      console.error("error: invalid input");
      for (const [field, message] of fieldErrors) console.error(`  ${FLAG_OF[field] ?? field} (${field}): ${message}`);
    } else if (data?.code === "UNAUTHORIZED") {
      console.error(`error: BrokeForge rejected BROKEFORGE_TOKEN (${e.message}). Is it revoked, or from another instance?`);
    } else if (data?.code) {
      console.error(`error: ${e.message} (${data.code})`);
    } else {
      // No tRPC response at all: the server is down, the URL is wrong, or a proxy answered.
      const cause = (e.cause as { cause?: { code?: string; message?: string } } | undefined)?.cause;
      console.error(`error: cannot reach BrokeForge at ${url}: ${e.message}${cause?.code ? ` (${cause.code})` : ""}`);
    }
    return 1;
  }
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

/** Columns padded to the widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * Plain JSON for other programs, not tRPC's superjson wire format: the client has already
 * decoded the response, and JSON.stringify writes its Dates as ISO 8601 strings (Date#toJSON).
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** "2025-01-02 03:04 UTC (5m ago)". */
export function when(at: Date | null | undefined, now = Date.now()): string {
  if (!at) return "-";
  const s = Math.round((now - at.getTime()) / 1000);
  const ago =
    s < 60
      ? `${Math.max(s, 0)}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 86_400
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86_400)}d`;
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC (${ago} ago)`;
}

/** First line of a (multi-line) error log, shortened for a table cell. */
export function oneLine(text: string | null | undefined, max = 80): string {
  if (!text) return "";
  const line = text.split("\n").find((l) => l.trim()) ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
