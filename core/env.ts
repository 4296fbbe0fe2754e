// Environment, validated once at process start (web and worker). A missing or bad
// value stops the process with a message that names it.
import { z } from "zod";

const base64Key32 = z
  .string()
  .refine((v) => Buffer.from(v, "base64").length === 32, "must be 32 random bytes, base64-encoded (openssl rand -base64 32)");

const common = {
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// connection URL"),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:]+:\d+$/, "must be host:port")
    .default("127.0.0.1:7233"),
  TEMPORAL_NAMESPACE: z.string().min(1).default("default"),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default("brokeforge"),
  BROKEFORGE_ENCRYPTION_KEY: base64Key32,
  /** How long one operation may run before it is failed (seed: $timeout = 600). */
  OPERATION_TIMEOUT_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(24 * 3600)
    .default(600),
};

export const workerEnvSchema = z.object(common);

export const webEnvSchema = z.object({
  ...common,
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  /** Where users reach the app; used for the WebSocket Origin check and secure cookies. */
  PUBLIC_URL: z.string().url().optional(),
  SESSION_SECRET: z.string().min(32, "must be at least 32 characters"),
  TEMPORAL_UI_URL: z.string().url().default("http://127.0.0.1:8233"),
});

export type WorkerEnv = z.infer<typeof workerEnvSchema>;
export type WebEnv = z.infer<typeof webEnvSchema> & { PUBLIC_URL: string };

export class EnvError extends Error {}

function parse<T extends z.ZodTypeAny>(schema: T, source: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => {
    const name = String(i.path[0]);
    return source[name] === undefined ? `  ${name}: is required but not set` : `  ${name}: ${i.message}`;
  });
  throw new EnvError(`Invalid environment:\n${lines.join("\n")}\nSee .env.example for every variable.`);
}

let web: WebEnv | undefined;
let worker: WorkerEnv | undefined;

export function webEnv(source: NodeJS.ProcessEnv = process.env): WebEnv {
  if (web && source === process.env) return web;
  const env = parse(webEnvSchema, source);
  const parsed = { ...env, PUBLIC_URL: env.PUBLIC_URL ?? `http://${env.HOST}:${env.PORT}` };
  if (source === process.env) web = parsed;
  return parsed;
}

export function workerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  if (worker && source === process.env) return worker;
  const env = parse(workerEnvSchema, source);
  if (source === process.env) worker = env;
  return env;
}

/** What both processes share; whichever validated first. */
export function sharedEnv(): WorkerEnv {
  return web ?? workerEnv();
}

/** Entry points call this so a bad env ends the process with the message, not a stack. */
export function exitOnEnvError(e: unknown): never {
  if (e instanceof EnvError) {
    console.error(e.message);
    process.exit(78); // EX_CONFIG
  }
  throw e;
}
