// Loads `@prisma/schema-engine-wasm` (the schema engine compiled to WebAssembly,
// talking to PostgreSQL through a JS driver adapter) and runs commands on it.
//
// The package's own entry point does `import * as wasm from "./schema_engine_bg.wasm"`,
// which Node 20 can't load without --experimental-wasm-modules, so we instantiate
// the .wasm file ourselves and hand it to the package's JS glue module.
//
// The engine API is internal to Prisma; this mirrors how @prisma/migrate's
// SchemaEngineWasm drives it (adapter bound with bindMigrationAwareSqlAdapterFactory).

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";
import type { MigrationAdapterFactory } from "./pg-adapter";

export type { SchemaEngine };

export class SchemaEngineError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "SchemaEngineError";
  }
}

/** The registry Prisma's wasm glue reports a Rust panic's message to (`global.PRISMA_WASM_PANIC_REGISTRY`). */
interface PanicRegistry {
  message: string;
  get(): string;
  set_message(message: string): void;
  /** Set once our hook (installPanicHook) wraps set_message. */
  brokeforgeHooked?: boolean;
}

declare global {
  // Shared with Prisma's other wasm modules (the query compiler); whoever loads first creates it.
  var PRISMA_WASM_PANIC_REGISTRY: PanicRegistry | undefined;
}

// One instantiation per glue module (it keeps the wasm instance in a module-level variable).
// On globalThis: tests may load this module more than once (one module graph per runner).
const INSTANCES = Symbol.for("brokeforge.schemaEngineWasm");
const shared = globalThis as typeof globalThis & { [INSTANCES]?: WeakMap<object, Promise<void>> };
const instances = (shared[INSTANCES] ??= new WeakMap());

let panicMessage: string | undefined;

function loadWasm(): Promise<void> {
  installPanicHook();
  if (panicMessage !== undefined) {
    // Pending callbacks of the crashed instance may still fire, so re-instantiating
    // in this process isn't safe either.
    return Promise.reject(new SchemaEngineError(`the schema engine panicked earlier in this process (${panicMessage}); restart it`));
  }
  let loading = instances.get(glue);
  if (!loading) {
    loading = (async () => {
      const require = createRequire(import.meta.url);
      const dir = path.dirname(require.resolve("@prisma/schema-engine-wasm"));
      const bytes = await readFile(path.join(dir, "schema_engine_bg.wasm"));
      const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": glue });
      glue.__wbg_set_wasm(instance.exports);
      // What the package's entry point does after handing the glue its exports.
      const start = instance.exports.__wbindgen_start;
      if (typeof start !== "function") throw new SchemaEngineError("schema_engine_bg.wasm exports no __wbindgen_start");
      start();
    })();
    instances.set(glue, loading);
  }
  return loading;
}

// A Rust panic inside an async engine command does not reject the command's
// promise: the panic hook reports the message through the global
// PRISMA_WASM_PANIC_REGISTRY (shared with Prisma's other wasm modules), then a
// `RuntimeError: unreachable` is thrown from a microtask (an uncaught exception)
// and the promise never settles. We hook the registry so the running command
// fails with the panic message instead of hanging. The wasm instance is unusable
// after a panic, so later commands in the same process fail right away.
const panicListeners = new Set<(message: string) => void>();

function installPanicHook(): void {
  const registry = (globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
    message: "",
    get() {
      return this.message;
    },
    set_message(message: string) {
      this.message = `RuntimeError: ${message}`;
    },
  });
  if (registry.brokeforgeHooked) return;
  const setMessage = registry.set_message.bind(registry);
  registry.set_message = (message: string) => {
    setMessage(message);
    for (const listener of panicListeners) listener(message);
  };
  registry.brokeforgeHooked = true;
}

type ErrorRegistry = { consumeError(id: number): { error: unknown } | undefined };

/**
 * Engine errors come back in a few shapes: user-facing errors with a Prisma code
 * (P3xxx…), connector errors, or a reference to a JS exception thrown inside the
 * adapter ("External error id#N", kept in the adapter's error registry).
 */
function toReadableError(error: unknown, registry: ErrorRegistry): Error {
  if (error instanceof SchemaEngineError) return error;
  const e = error as { code?: string; message?: string } | undefined;
  const id = /External error id#(\d+)/.exec(e?.message ?? "")?.[1];
  const original = id === undefined ? undefined : registry.consumeError(Number(id))?.error;
  if (original instanceof Error) return original;

  let message = e?.message ?? String(error);
  // Drop the Rust span trace ("   0: sql_schema_connector::…") unless debugging.
  if (!process.env.DEBUG_SCHEMA_ENGINE) message = message.replace(/\n\s+0: [\s\S]*$/, "").trimEnd();
  return new SchemaEngineError(e?.code ? `${e.code}: ${message}` : message, e?.code);
}

/**
 * Start a schema engine on `factory`, run `fn`, and always free the engine and
 * close the factory (which also drops any shadow database).
 */
export async function withSchemaEngine<T>(
  factory: MigrationAdapterFactory,
  schemaFiles: [path: string, content: string][] | undefined,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  await loadWasm();
  const adapter = bindMigrationAwareSqlAdapterFactory(factory);
  const log = (line: string) => {
    if (process.env.DEBUG_SCHEMA_ENGINE) process.stderr.write(`[schema-engine] ${line}\n`);
  };

  let onPanic!: (message: string) => void;
  const panicked = new Promise<never>((_, reject) => {
    onPanic = (message) => {
      panicMessage = message.split("\n")[0];
      reject(new SchemaEngineError(`schema engine panicked: ${message}`));
    };
  });
  panicked.catch(() => {}); // only observed through the race below
  panicListeners.add(onPanic);

  let engine: SchemaEngine | undefined;
  try {
    const run = async () => {
      engine = await glue.SchemaEngine.new({ datamodels: schemaFiles }, log, adapter);
      return fn(engine);
    };
    return await Promise.race([run(), panicked]);
  } catch (error) {
    throw toReadableError(error, adapter.errorRegistry);
  } finally {
    panicListeners.delete(onPanic);
    if (panicMessage === undefined) engine?.free();
    await factory.close();
  }
}
