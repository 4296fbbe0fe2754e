// `npm run dev` as a developer runs it (scripts/dev.ts, real PostgreSQL, Temporal, worker, web and
// UI build), on free ports and a temp data dir, never the developer's .data/ or default ports.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Connection } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, waitFor } from "../../scripts/infra/ports";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const START_TIMEOUT_MS = 180_000; // PostgreSQL initdb + migrations, Temporal, the UI build, the workflow bundle

interface Ports {
  PORT: number;
  BROKEFORGE_PG_PORT: number;
  BROKEFORGE_TEMPORAL_PORT: number;
  BROKEFORGE_TEMPORAL_UI_PORT: number;
}

/** One `npm run dev` (without npm: node + tsx on scripts/dev.ts) and everything it printed. */
class Dev {
  readonly child: ChildProcess;
  output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(dataDir: string, ports: Ports) {
    // Not watching: other work in this checkout must not restart the processes under test (the
    // watcher and the supervision have their own tests in dev-parts.test.ts).
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "development", BROKEFORGE_DATA_DIR: dataDir, BROKEFORGE_DEV_WATCH: "0" };
    for (const [k, v] of Object.entries(ports)) env[k] = String(v);
    // The test run's own infrastructure must not leak in: dev starts its own.
    for (const k of ["DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_UI_URL", "PUBLIC_URL", "HOST"]) delete env[k];
    this.child = spawn(process.execPath, ["--import", "tsx", "scripts/dev.ts"], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    const append = (b: Buffer) => (this.output += b.toString());
    this.child.stdout!.on("data", append);
    this.child.stderr!.on("data", append);
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    // Output is complete once every writer closed the pipes: dev's supervisor holds them too,
    // and outlives the launcher when that is killed.
    this.child.once("close", () => (this.complete = true));
  }
  private complete = false;

  /** The first match of `re` in what dev printed after `from` (an offset into output). */
  line(re: RegExp, { from = 0, timeoutMs = 60_000 } = {}): Promise<RegExpMatchArray> {
    return waitFor(
      `dev to print ${re}`,
      async () => this.output.slice(from).match(re) ?? Promise.reject(new Error(`not yet; output tail:\n${this.output.slice(-4000)}`)),
      {
        timeoutMs,
        abort: () =>
          this.complete && !this.output.slice(from).match(re)
            ? new Error(`dev ended without printing ${re}:\n${this.output.slice(-4000)}`)
            : undefined,
      },
    );
  }

  async pid(re: RegExp, opts?: { from?: number; timeoutMs?: number }): Promise<number> {
    return Number((await this.line(re, opts))[1]);
  }

  kill(signal: NodeJS.Signals = "SIGKILL") {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** `pid` still runs and is the process we think it is (pids get re-used). */
async function runs(pid: number, cmdlineIncludes: string): Promise<boolean> {
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  const state = await fs.readFile(`/proc/${pid}/stat`, "utf8").then(
    (s) => s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3),
    () => "",
  );
  return state !== "" && state !== "Z" && cmdline.replaceAll("\0", " ").includes(cmdlineIncludes);
}

async function ports(): Promise<Ports> {
  // Sequential, so two calls can't hand out the same port.
  return {
    PORT: await freePort(),
    BROKEFORGE_PG_PORT: await freePort(),
    BROKEFORGE_TEMPORAL_PORT: await freePort(),
    BROKEFORGE_TEMPORAL_UI_PORT: await freePort(),
  };
}

let base: string;
const devs: Dev[] = [];
beforeAll(async () => {
  base = await fs.mkdtemp(path.join(os.tmpdir(), "bf-dev-test-"));
  await fs.chmod(base, 0o755); // as root, PostgreSQL runs as the postgres user and must traverse it
});
afterAll(async () => {
  // A failed test must not leave a dev running: SIGTERM lets it stop its stack.
  await Promise.all(
    devs.map(async (d) => {
      d.kill("SIGTERM");
      await d.exited;
    }),
  );
  await fs.rm(base, { recursive: true, force: true });
});

describe("npm run dev refuses ports that are already held", () => {
  for (const held of ["PORT", "BROKEFORGE_TEMPORAL_PORT"] as const) {
    it(`names the port and its holder (${held})`, async () => {
      const blocker = net.createServer();
      const p = await ports();
      await new Promise<void>((resolve) => blocker.listen(p[held], "127.0.0.1", resolve));
      try {
        const dataDir = path.join(base, `held-${held}`);
        const dev = new Dev(dataDir, p);
        devs.push(dev);
        const { code } = await dev.exited;
        expect(code).not.toBe(0);
        expect(dev.output).toMatch(
          new RegExp(
            `port ${p[held]} \\(${held === "PORT" ? "web app" : "Temporal"}\\) is already in use by [^\\n]*pid ${process.pid}\\b[^\\n]*\\(set ${held} to use another port\\)`,
          ),
        );
        // Refused before starting anything: no PostgreSQL cluster was even created.
        await expect(fs.access(path.join(dataDir, "postgres"))).rejects.toThrow();
      } finally {
        await new Promise((r) => blocker.close(r));
      }
    });
  }
});

// One dev instance lived through step by step: it must survive the worker and web restarts
// before the last step stops it, so these tests keep their order (the tier is shuffled).
describe("a running npm run dev", { shuffle: false }, () => {
  let dev: Dev;
  let p: Ports;
  const pids: Record<"postgres" | "temporal" | "ui" | "worker" | "web", number> = { postgres: 0, temporal: 0, ui: 0, worker: 0, web: 0 };
  const dataDir = () => path.join(base, "running");

  beforeAll(async () => {
    p = await ports();
    dev = new Dev(dataDir(), p);
    devs.push(dev);
    await dev.line(/BrokeForge {6}http:\/\/127\.0\.0\.1:\d+/, { timeoutMs: START_TIMEOUT_MS });
    pids.postgres = await dev.pid(/\[stack\] PostgreSQL ready \(pid (\d+)\)/);
    pids.temporal = await dev.pid(/\[stack\] Temporal ready \(pid (\d+)\)/);
    pids.ui = await dev.pid(/\[dev\] ui: started \(pid (\d+)\)/);
    pids.worker = await dev.pid(/\[dev\] worker: started \(pid (\d+)\)/);
    pids.web = await dev.pid(/\[dev\] web: started \(pid (\d+)\)/);
  }, START_TIMEOUT_MS + 30_000);

  it("restarts a worker that dies, and the new one polls the task queue", async () => {
    const from = dev.output.length;
    process.kill(pids.worker, "SIGKILL");
    const next = await dev.pid(
      /\[dev\] worker: exited unexpectedly \(signal SIGKILL\), restarted: crash 1 of 5 allowed within 60 s \(pid (\d+)\)/,
      { from },
    );
    expect(next).not.toBe(pids.worker);
    // The worker's identity is pid@host: the poller Temporal sees is the new process.
    const connection = await Connection.connect({ address: `127.0.0.1:${p.BROKEFORGE_TEMPORAL_PORT}` });
    try {
      await waitFor(
        "the new worker to poll",
        async () => {
          const { pollers } = await connection.workflowService.describeTaskQueue({
            namespace: "default",
            taskQueue: { name: "brokeforge" },
          });
          if (!pollers?.some((poller) => poller.identity?.startsWith(`${next}@`)))
            throw new Error(`pollers: ${pollers?.map((x) => x.identity).join(", ")}`);
        },
        { timeoutMs: 90_000 },
      );
    } finally {
      await connection.close();
    }
    pids.worker = next;
  }, 120_000);

  it("restarts the web app that dies, and it serves again", async () => {
    const from = dev.output.length;
    process.kill(pids.web, "SIGKILL");
    const next = await dev.pid(/\[dev\] web: exited unexpectedly \(signal SIGKILL\), restarted: [^\n]*\(pid (\d+)\)/, { from });
    expect(next).not.toBe(pids.web);
    await waitFor(
      "the web app to answer",
      async () => {
        const res = await fetch(`http://127.0.0.1:${p.PORT}/healthz`);
        if (!res.ok) throw new Error(`healthz ${res.status}`);
      },
      { timeoutMs: 60_000 },
    );
    pids.web = next;
  }, 90_000);

  it("Ctrl-C stops the web app, worker and UI build, then Temporal and PostgreSQL, and exits 0", async () => {
    dev.kill("SIGINT");
    const { code } = await dev.exited;
    expect(code, dev.output.slice(-4000)).toBe(0);
    // Children first, the stack after them.
    const out = dev.output;
    expect(out.indexOf("[dev] stopping (SIGINT)")).toBeGreaterThan(-1);
    expect(out.indexOf("[dev] stopping Temporal and PostgreSQL")).toBeGreaterThan(out.indexOf("[dev] stopping (SIGINT)"));
    // dev returned only once everything it started was gone.
    expect(await runs(pids.postgres, `postgres -D ${path.join(dataDir(), "postgres")}`)).toBe(false);
    expect(await runs(pids.temporal, "temporal server start-dev")).toBe(false);
    expect(await runs(pids.worker, "temporal/worker.ts")).toBe(false);
    expect(await runs(pids.web, "server.ts")).toBe(false);
    expect(await runs(pids.ui, "scripts/dev/ui-build.ts")).toBe(false);
  }, 90_000);
});

describe("npm run dev killed with SIGKILL", () => {
  it(
    "leaves no PostgreSQL or Temporal behind: its supervisor stops them",
    async () => {
      // Re-uses the cluster of the run above (already initialised and migrated): a quicker start.
      const dataDir = path.join(base, "running");
      const dev = new Dev(dataDir, await ports());
      devs.push(dev);
      // Once the stack is up and the children are starting (the UI build and workflow bundle take a
      // while): killed mid-start, as a developer's kill -9 may well be.
      const postgres = await dev.pid(/\[stack\] PostgreSQL ready \(pid (\d+)\)/, { timeoutMs: START_TIMEOUT_MS });
      const temporal = await dev.pid(/\[stack\] Temporal ready \(pid (\d+)\)/, { timeoutMs: START_TIMEOUT_MS });
      await dev.line(/\[dev\] worker: started \(pid \d+\)/);

      dev.kill("SIGKILL");
      await dev.exited;
      // The supervisor (scripts/dev/main.ts, in its own session) saw the launcher go and stops
      // everything in order; its output still reaches our pipe.
      await dev.line(/\[dev\] the dev launcher \(scripts\/dev\.ts\) is gone; stopping/);
      await dev.line(/\[dev\] stopped\n/, { timeoutMs: 90_000 });
      await waitFor("PostgreSQL and Temporal to be gone", async () => {
        if (await runs(postgres, `postgres -D ${path.join(dataDir, "postgres")}`)) throw new Error(`PostgreSQL ${postgres} still runs`);
        if (await runs(temporal, "temporal server start-dev")) throw new Error(`Temporal ${temporal} still runs`);
      });
    },
    START_TIMEOUT_MS + 120_000,
  );
});

describe("the dev supervisor killed with SIGKILL", () => {
  it(
    "the launcher stops what it left, PostgreSQL included, and exits non-zero",
    async () => {
      const dataDir = path.join(base, "running");
      const dev = new Dev(dataDir, await ports());
      devs.push(dev);
      const postgres = await dev.pid(/\[stack\] PostgreSQL ready \(pid (\d+)\)/, { timeoutMs: START_TIMEOUT_MS });
      const temporal = await dev.pid(/\[stack\] Temporal ready \(pid (\d+)\)/, { timeoutMs: START_TIMEOUT_MS });
      const worker = await dev.pid(/\[dev\] worker: started \(pid (\d+)\)/);
      const main = await supervisorOf(dev.child.pid!);

      process.kill(main, "SIGKILL");
      const { code } = await dev.exited;
      expect(code).not.toBe(0);
      expect(dev.output).toMatch(/\[dev\] dev was killed \(SIGKILL\), leaving pids [\d, ]+; stopping them/);
      // The launcher exits only once the group is empty.
      expect(await runs(postgres, `postgres -D ${path.join(dataDir, "postgres")}`)).toBe(false);
      expect(await runs(temporal, "temporal server start-dev")).toBe(false);
      expect(await runs(worker, "temporal/worker.ts")).toBe(false);
    },
    START_TIMEOUT_MS + 120_000,
  );
});

/** The pid of scripts/dev/main.ts, the launcher's child. */
async function supervisorOf(launcher: number): Promise<number> {
  for (const name of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid === launcher && (await runs(Number(name), "scripts/dev/main.ts"))) return Number(name);
  }
  throw new Error(`no scripts/dev/main.ts child of ${launcher}`);
}
