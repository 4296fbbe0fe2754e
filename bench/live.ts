// Live-update figures (issue 4), measured against a real web process (server.ts as a child
// process, so the clients' own work is not charged to the server):
//   invalidation_p99_ms — a committed status change → its event received by each of 1,000 ws
//                         subscribers (raw `ws` sockets speaking tRPC's protocol), p99 over rounds.
//   server_list_render_ms — server render of the dashboard (GET /, session cookie) with 1,000 servers.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import superjson, { type SuperJSONResult } from "superjson";
import WebSocket from "ws";
import { databaseUrl } from "../scripts/infra/postgres";
import { freePort, waitFor } from "../scripts/infra/ports";
import { median, percentile } from "./stats";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLIENTS = 1000;
const ROUNDS = 30;
const SERVERS = 1000;
const RENDERS = 30;

export interface LiveFigures {
  invalidation_p50_ms: number;
  invalidation_p99_ms: number;
  invalidation_missed: number;
  server_list_render_ms: number;
  server_list_render_p95_ms: number;
}

export async function measureLive(infra: { pgAdminUrl: string; temporalAddress: string }, log: (s: string) => void): Promise<LiveFigures> {
  const dbName = `bf_bench_live_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: infra.pgAdminUrl });
  await admin.connect();
  await admin.query(`create database "${dbName}" template brokeforge_template`);
  const url = databaseUrl(infra.pgAdminUrl, dbName);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let web: ChildProcess | undefined;
  const sockets: WebSocket[] = [];
  try {
    // Measure what production serves: a production build, run with NODE_ENV=production.
    execFileSync(process.execPath, ["node_modules/@remix-run/dev/dist/cli.js", "build"], {
      cwd: ROOT,
      stdio: "ignore",
      env: { ...process.env, NODE_ENV: "production" },
    });
    web = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        NODE_ENV: "production",
        DATABASE_URL: url,
        TEMPORAL_ADDRESS: infra.temporalAddress,
        BROKEFORGE_ENCRYPTION_KEY: randomBytes(32).toString("base64"),
        SESSION_SECRET: randomBytes(32).toString("base64url"),
        HOST: "127.0.0.1",
        PORT: String(port),
      },
    });
    await waitFor("web", () => fetch(`${base}/healthz`).then((r) => r.ok || Promise.reject(new Error(String(r.status)))), {
      timeoutMs: 30_000,
    });

    // A user (session cookie), an API token, and 1,000 servers.
    const signup = await fetch(`${base}/signup`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: "bench@example.com", password: "bench password long" }),
    });
    const cookie = signup.headers.get("set-cookie")!.split(";")[0]!;
    // tRPC's wire format is superjson's ({ json, meta? }) both ways.
    const created = (await (
      await fetch(`${base}/trpc/tokens.create`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json" },
        body: superjson.stringify({ name: "bench" }),
      })
    ).json()) as { result: { data: SuperJSONResult } };
    const { token } = superjson.deserialize<{ token: string }>(created.result.data);
    const {
      rows: [user],
    } = await db.query(`select id from "User" where email = 'bench@example.com'`);
    const ids = Array.from({ length: SERVERS }, () => `bench${randomUUID().replaceAll("-", "")}`);
    await db.query(
      `insert into "Server" (id, "userId", name, host, "updatedAt") select id, $1, 'web-' || n, '10.0.' || (n / 250) || '.' || (n % 250), now()
       from unnest($2::text[]) with ordinality as t(id, n)`,
      [user.id, ids],
    );

    // server_list_render_ms
    const render = async () => {
      const t = performance.now();
      const res = await fetch(`${base}/`, { headers: { cookie } });
      const html = await res.text();
      if (!res.ok || !html.includes("web-1000")) throw new Error(`dashboard render failed: ${res.status}`);
      return performance.now() - t;
    };
    for (let i = 0; i < 5; i++) await render(); // warm up (JIT, connection pool)
    const renders: number[] = [];
    for (let i = 0; i < RENDERS; i++) renders.push(await render());
    log(`  dashboard with ${SERVERS} servers: GET / (SSR: loader → tRPC servers.list → React render), ${RENDERS} runs after 5 warm-ups`);
    log(`    median ${median(renders).toFixed(1)} ms, p95 ${percentile(renders, 95).toFixed(1)} ms`);

    // invalidation_p99_ms
    const target = ids[0]!;
    let round = -1;
    let t0 = 0;
    const latencies: number[] = [];
    const received = new Array<number>(ROUNDS).fill(0);
    let started = 0;
    const wsUrl = `ws://127.0.0.1:${port}/trpc`;
    for (let i = 0; i < CLIENTS; i++) {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
      sockets.push(ws);
      const input = superjson.serialize({ serverId: target });
      ws.on("open", () => ws.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "live.server", input } })));
      ws.on("message", (raw) => {
        const msg = JSON.parse(String(raw)) as { result?: { type: string; data?: SuperJSONResult } };
        const entity = msg.result?.data ? superjson.deserialize<{ data?: { entity: string } }>(msg.result.data).data?.entity : undefined;
        if (entity === "stream") started++;
        else if (entity === "server" && round >= 0) {
          latencies.push(performance.now() - t0);
          received[round]!++;
        }
      });
    }
    await waitFor("subscribers", async () => (started >= CLIENTS ? true : Promise.reject(new Error(`${started}/${CLIENTS} subscribed`))), {
      timeoutMs: 60_000,
    });
    for (round = 0; round < ROUNDS; round++) {
      t0 = performance.now();
      await db.query(`update "Server" set "connectionError" = $1 where id = $2`, [`bench ${round}`, target]);
      const deadline = performance.now() + 2000;
      while (received[round]! < CLIENTS && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      await new Promise((r) => setTimeout(r, 50)); // let the system settle between rounds
    }
    const missed = ROUNDS * CLIENTS - latencies.length;
    log(`  ${CLIENTS} ws subscribers of one server, ${ROUNDS} status changes (autocommit UPDATE; clock starts before the query)`);
    log(
      `    latency to each subscriber: p50 ${median(latencies).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms, missed ${missed}`,
    );
    return {
      invalidation_p50_ms: round1(median(latencies)),
      invalidation_p99_ms: round1(percentile(latencies, 99)),
      invalidation_missed: missed,
      server_list_render_ms: round1(median(renders)),
      server_list_render_p95_ms: round1(percentile(renders, 95)),
    };
  } finally {
    for (const s of sockets) s.terminate();
    if (web && web.exitCode === null) {
      web.kill("SIGTERM");
      await new Promise((r) => web!.once("exit", r));
    }
    await db.end();
    await admin.query(`drop database if exists "${dbName}" with (force)`);
    await admin.end();
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;

// Run alone: tsx bench/live.ts
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { startInfra } = await import("./harness");
  const infra = await startInfra();
  try {
    const figures = await measureLive(infra, console.log);
    console.log(JSON.stringify(figures));
  } finally {
    await infra.stop();
  }
  process.exit(0);
}
