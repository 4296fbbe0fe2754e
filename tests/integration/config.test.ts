// Configuration: env validated once with a message naming the bad variable, and the
// production docker-compose.yml giving web and worker every variable they require.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { webEnvSchema, workerEnvSchema } from "../../core/env";

const root = fileURLToPath(new URL("../..", import.meta.url));
const valid = {
  DATABASE_URL: "postgres://u:p@127.0.0.1:1/db",
  BROKEFORGE_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString("base64"),
  SESSION_SECRET: "s".repeat(40),
  TEMPORAL_ADDRESS: "127.0.0.1:1",
};

function start(entry: string, env: Record<string, string | undefined>) {
  const clean: Record<string, string> = { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/root" };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  return spawnSync(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    env: clean as NodeJS.ProcessEnv,
    encoding: "utf8",
    timeout: 30_000,
  });
}

describe("environment validation", () => {
  it.each([
    ["server.ts", "DATABASE_URL", { ...valid, DATABASE_URL: undefined }, /DATABASE_URL: is required but not set/],
    ["server.ts", "SESSION_SECRET", { ...valid, SESSION_SECRET: "short" }, /SESSION_SECRET: must be at least 32 characters/],
    ["server.ts", "PORT", { ...valid, PORT: "70000" }, /PORT: /],
    [
      "temporal/worker.ts",
      "BROKEFORGE_ENCRYPTION_KEY",
      { ...valid, BROKEFORGE_ENCRYPTION_KEY: "abc" },
      /BROKEFORGE_ENCRYPTION_KEY: must be 32 random bytes/,
    ],
    ["temporal/worker.ts", "TEMPORAL_ADDRESS", { ...valid, TEMPORAL_ADDRESS: "no-port" }, /TEMPORAL_ADDRESS: must be host:port/],
  ])("%s stops at start when %s is bad, naming it", (entry, _name, env, message) => {
    const run = start(entry, env);
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});

describe("docker-compose.yml", () => {
  const compose = parse(readFileSync(`${root}/docker-compose.yml`, "utf8"), { merge: true });
  const example = Object.fromEntries(
    readFileSync(`${root}/.env.example`, "utf8")
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const required = (schema: typeof webEnvSchema | typeof workerEnvSchema) =>
    Object.entries(schema.shape)
      .filter(([, field]) => !field.safeParse(undefined).success)
      .map(([name]) => name);

  it.each([
    ["web", webEnvSchema],
    ["worker", workerEnvSchema],
  ] as const)("gives %s every variable the app requires", (service, schema) => {
    const svc = compose.services[service];
    expect(svc.env_file).toBe(".env");
    const provided = new Set([...Object.keys(example), ...Object.keys(svc.environment ?? {})]);
    for (const name of required(schema)) expect([service, name, provided.has(name)]).toEqual([service, name, true]);
  });

  it("documents every variable the app reads in .env.example", () => {
    for (const name of new Set([...Object.keys(webEnvSchema.shape), ...Object.keys(workerEnvSchema.shape)])) {
      if (name === "NODE_ENV") continue;
      expect([name, name in example]).toEqual([name, true]);
    }
  });

  it("runs migrations before web and worker, and has healthchecks", () => {
    for (const s of ["web", "worker"]) {
      expect(compose.services[s].depends_on.migrate.condition).toBe("service_completed_successfully");
      expect(compose.services[s].healthcheck.test).toBeTruthy();
    }
    for (const s of ["postgres", "temporal"]) expect(compose.services[s].healthcheck.test).toBeTruthy();
    expect(compose.services.temporal.environment.POSTGRES_SEEDS).toBe("postgres");
  });
});
