// One supervised process of `npm run dev` (the web app, the worker, the UI build): started,
// restarted on code changes, restarted when it dies unexpectedly — up to a limit — and stopped.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface ServiceOptions {
  name: string;
  /** Arguments to node (this process's binary). */
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** How long SIGTERM may take before SIGKILL (the worker: its shutdown grace time and a margin). */
  stopTimeoutMs: number;
  /**
   * Start the replacement before the old process has exited. For the worker: it holds no port,
   * so the new one polls at once while the old one lets its running activities finish.
   */
  overlapRestarts?: boolean;
  /** `count` unexpected exits within `windowMs` and the service gives up (default 5 in 60 s). */
  crashLimit?: { count: number; windowMs: number };
  /** Each IPC message from the child; `{ type: "ready" }` also marks it ready. */
  onMessage?(message: unknown): void;
  /** The process reported ready (every start, restarts included). */
  onReady?(pid: number): void;
  /** The service cannot keep running (crash loop, bad configuration): stop everything. */
  onGiveUp(reason: string): void;
  log?(line: string): void;
}

type StartReason = "start" | "change" | "crash";

interface Run {
  child: ChildProcess;
  reason: StartReason;
  ready: boolean;
  stopping: boolean;
  exited: Promise<void>;
}

/** What a process exits with when its environment is invalid (core/env.ts): restarting won't help. */
const EX_CONFIG = 78;

export class Service {
  private current: Run | undefined;
  /** Replaced or stopped processes that have not exited yet. */
  private readonly leaving = new Set<Run>();
  private crashes: number[] = [];
  private stopped = false;
  private wasStarted = false;
  private restarts: Promise<void> = Promise.resolve();
  private restartQueued = false;
  private readonly crashLimit: { count: number; windowMs: number };
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ServiceOptions) {
    this.crashLimit = opts.crashLimit ?? { count: 5, windowMs: 60_000 };
    this.log = opts.log ?? ((line) => console.log(`[dev] ${line}`));
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  /** start() was called (it may be down since, waiting for a code change). */
  get started(): boolean {
    return this.wasStarted;
  }

  start(): void {
    if (this.stopped || this.current) return;
    this.wasStarted = true;
    this.spawn("start");
  }

  /**
   * Restarts for a code change (or a new UI build); starts it again if it is down waiting for a
   * change. A service never started stays so. Requests made while one is pending merge into it.
   */
  restart(why: string): Promise<void> {
    if (this.stopped || !this.wasStarted) return Promise.resolve();
    if (this.restartQueued) return this.restarts;
    this.restartQueued = true;
    this.restarts = this.restarts.then(async () => {
      this.restartQueued = false;
      if (this.stopped) return;
      const old = this.current;
      if (old) {
        this.current = undefined;
        const gone = this.terminate(old);
        if (!this.opts.overlapRestarts) await gone;
      }
      if (!this.stopped) this.spawn("change", `restarted: ${why}`);
    });
    return this.restarts;
  }

  /** Stops the process (and any still leaving), SIGKILL after the stop timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    const run = this.current;
    this.current = undefined;
    if (run) this.terminate(run);
    await Promise.all([...this.leaving].map((r) => r.exited));
  }

  /** `notice` is the one line printed for this start (with the new pid). */
  private spawn(reason: StartReason, notice = "started") {
    const argv = [process.execPath, ...this.opts.args];
    // If dev itself is SIGKILLed, the kernel sends the child SIGTERM (a graceful stop), as
    // scripts/infra/temporal.ts does for Temporal; setpriv execs node, so the pid stays the child's.
    const [command, args] = SETPRIV ? [SETPRIV, ["--pdeathsig", "SIGTERM", "--", ...argv]] : [argv[0]!, argv.slice(1)];
    const child = spawn(command, args, { cwd: this.opts.cwd, env: this.opts.env, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let resolveExited!: () => void;
    const run: Run = { child, reason, ready: false, stopping: false, exited: new Promise((r) => (resolveExited = r)) };
    this.current = run;
    this.log(`${this.opts.name}: ${notice} (pid ${child.pid})`);
    child.on("message", (message) => {
      if (isReady(message) && !run.ready) {
        run.ready = true;
        if (child.pid !== undefined) this.opts.onReady?.(child.pid);
      }
      this.opts.onMessage?.(message);
    });
    let settled = false;
    const onGone = (how: string, code: number | null) => {
      if (settled) return;
      settled = true;
      this.leaving.delete(run);
      resolveExited();
      this.exited(run, how, code);
    };
    child.once("exit", (code, signal) => onGone(signal ? `signal ${signal}` : `code ${code}`, code));
    child.once("error", (err) => {
      // Spawning itself failed (no 'exit' follows).
      if (child.pid === undefined) onGone(`spawn error: ${err.message}`, null);
    });
  }

  private terminate(run: Run): Promise<void> {
    run.stopping = true;
    this.leaving.add(run);
    const { child } = run;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        this.log(`${this.opts.name}: pid ${child.pid} did not stop within ${Math.round(this.opts.stopTimeoutMs / 1000)} s; killing it`);
        child.kill("SIGKILL");
      }, this.opts.stopTimeoutMs);
      void run.exited.then(() => clearTimeout(timer));
    }
    return run.exited;
  }

  private exited(run: Run, how: string, code: number | null) {
    if (run.stopping || this.stopped) return;
    if (this.current === run) this.current = undefined;
    const { name } = this.opts;
    if (code === EX_CONFIG) {
      this.opts.onGiveUp(`${name} exited with ${how}: its configuration is invalid (see the message above)`);
      return;
    }
    if (run.reason === "change" && !run.ready) {
      // The code just changed and the process died before it came up: most likely the edit broke
      // it. Restarting would only repeat the error (and spend the crash budget); the next save
      // starts it again.
      this.log(`${name}: exited with ${how} after the code change, before it was ready; it starts again on the next change`);
      return;
    }
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < this.crashLimit.windowMs), now];
    const seconds = Math.round(this.crashLimit.windowMs / 1000);
    if (this.crashes.length >= this.crashLimit.count) {
      this.opts.onGiveUp(`${name} exited unexpectedly ${this.crashes.length} times within ${seconds} s (last: ${how})`);
      return;
    }
    this.spawn(
      "crash",
      `exited unexpectedly (${how}), restarted: crash ${this.crashes.length} of ${this.crashLimit.count} allowed within ${seconds} s`,
    );
  }
}

function isReady(message: unknown): boolean {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === "ready";
}

const SETPRIV =
  process.platform === "linux"
    ? (process.env.PATH ?? "")
        .split(path.delimiter)
        .map((dir) => path.join(dir, "setpriv"))
        .find((file) => fs.existsSync(file))
    : undefined;
