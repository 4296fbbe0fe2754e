// The parts of `npm run dev` on their own, with real files and real processes: the source watcher
// (scripts/dev/watch.ts) on a temp dir, and the supervision of one process (scripts/dev/service.ts)
// on tiny node scripts.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/infra/ports";
import { Service, type ServiceOptions } from "../../scripts/dev/service";
import { isNoise, watchSources, type SourceWatcher } from "../../scripts/dev/watch";

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "bf-dev-parts-"));
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

describe("watchSources", () => {
  let root: string;
  let watcher: SourceWatcher | undefined;
  let batches: string[][];
  afterEach(() => watcher?.close());

  async function setUp() {
    root = await fs.mkdtemp(path.join(dir, "tree-"));
    await fs.mkdir(path.join(root, "core", "deep"), { recursive: true });
    await fs.writeFile(path.join(root, "core", "deep", "a.ts"), "export const a = 1;\n");
    await fs.writeFile(path.join(root, "server.ts"), "\n");
    await fs.writeFile(path.join(root, "README.md"), "\n");
    batches = [];
    watcher = watchSources(root, ["core", "catalogue", "server.ts"], (b) => batches.push(b), { quietMs: 50 });
  }
  /** Resolves with the first batch reported after `act`, waiting for it (never for a fixed time). */
  async function changes(act: () => Promise<void>): Promise<string[]> {
    const before = batches.length;
    await act();
    return waitFor(
      "a batch of changes",
      async () => batches[before] ?? Promise.reject(new Error(`batches so far: ${JSON.stringify(batches)}`)),
      { intervalMs: 20, timeoutMs: 10_000 },
    );
  }

  it("reports edits deep in a watched folder and to a watched root file, not to other root files", async () => {
    await setUp();
    expect(await changes(() => fs.writeFile(path.join(root, "core", "deep", "a.ts"), "export const a = 2;\n"))).toEqual([
      path.join("core", "deep", "a.ts"),
    ]);
    // README.md is not watched: the change after it is reported alone.
    expect(
      await changes(async () => {
        await fs.writeFile(path.join(root, "README.md"), "x\n");
        await fs.writeFile(path.join(root, "server.ts"), "x\n");
      }),
    ).toEqual(["server.ts"]);
  });

  it("keeps seeing a file an editor saves by renaming a new file over it, save after save", async () => {
    await setUp();
    const file = path.join(root, "core", "deep", "a.ts");
    for (const version of [2, 3, 4]) {
      const changed = await changes(async () => {
        await fs.writeFile(`${file}.tmp~`, `export const a = ${version};\n`);
        await fs.rename(`${file}.tmp~`, file);
      });
      expect(changed).toEqual([path.join("core", "deep", "a.ts")]);
    }
  });

  it("picks up new subfolders and a watched top-level folder that appears later", async () => {
    await setUp();
    const sub = await changes(() => fs.mkdir(path.join(root, "core", "new")));
    expect(sub).toEqual([path.join("core", "new")]);
    expect(await changes(() => fs.writeFile(path.join(root, "core", "new", "b.ts"), "\n"))).toEqual([path.join("core", "new", "b.ts")]);

    expect(await changes(() => fs.mkdir(path.join(root, "catalogue")))).toEqual(["catalogue"]);
    expect(await changes(() => fs.writeFile(path.join(root, "catalogue", "c.ts"), "\n"))).toEqual([path.join("catalogue", "c.ts")]);
  });

  it("ignores tests, docs and editor files in the same burst as a real change", async () => {
    await setUp();
    const changed = await changes(async () => {
      await fs.writeFile(path.join(root, "core", "a.test.ts"), "\n");
      await fs.writeFile(path.join(root, "core", ".a.ts.swp"), "\n");
      await fs.writeFile(path.join(root, "core", "notes.md"), "\n");
      await fs.writeFile(path.join(root, "core", "4913"), "\n");
      await fs.writeFile(path.join(root, "core", "real.ts"), "\n");
    });
    expect(changed).toEqual([path.join("core", "real.ts")]);
  });

  it("isNoise", () => {
    for (const noise of [
      "core/x.test.ts",
      "app/y.spec.tsx",
      "core/.x.ts.swp",
      "core/x.ts~",
      "core/4913",
      "core/.hidden/x.ts",
      "core/node_modules/x.js",
      "docs.md",
    ]) {
      expect(isNoise(noise), noise).toBe(true);
    }
    for (const code of ["core/x.ts", "catalogue/templates/nginx.conf", "generated/prisma/client.js", "server.ts"])
      expect(isNoise(code), code).toBe(false);
  });
});

describe("Service", () => {
  const services: Service[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()));
  });

  /** A node script in the temp dir; it gets the IPC channel the Service opens. */
  async function script(name: string, body: string): Promise<string> {
    const file = path.join(dir, `${name}.mjs`);
    await fs.writeFile(file, body);
    return file;
  }

  function service(file: string, overrides: Partial<ServiceOptions> = {}) {
    const events: string[] = [];
    const pids: number[] = [];
    let gaveUp: string | undefined;
    const s = new Service({
      name: "probe",
      args: [file],
      env: { PATH: process.env.PATH, NODE_ENV: "test" },
      cwd: dir,
      stopTimeoutMs: 5_000,
      onGiveUp: (reason) => (gaveUp = reason),
      onReady: (pid) => pids.push(pid),
      log: (line) => events.push(line),
      ...overrides,
    });
    services.push(s);
    return { s, events, pids, gaveUp: () => gaveUp };
  }

  it("restarts a process that dies, and gives up after the crash limit", async () => {
    const file = await script("crashes-once-ready", 'process.send({ type: "ready" }, () => process.exit(3));');
    const { s, events, pids, gaveUp } = service(file, { crashLimit: { count: 3, windowMs: 10 * 60_000 } });
    s.start();
    const reason = await waitFor("the service to give up", async () => gaveUp() ?? Promise.reject(new Error(events.join("\n"))));
    expect(reason).toBe("probe exited unexpectedly 3 times within 600 s (last: code 3)");
    expect(new Set(pids).size).toBe(3); // started once, restarted twice
    expect(events.filter((e) => e.includes("exited unexpectedly (code 3), restarted: crash"))).toHaveLength(2);
    expect(s.running).toBe(false);
  });

  it("gives up at once on a configuration error (exit 78)", async () => {
    const file = await script("bad-config", "process.exit(78);");
    const { s, gaveUp } = service(file);
    s.start();
    expect(await waitFor("the service to give up", async () => gaveUp() ?? Promise.reject(new Error("not yet")))).toMatch(
      /probe exited with code 78: its configuration is invalid/,
    );
  });

  it("after a code change, a process that dies before it is ready waits for the next change", async () => {
    const mode = path.join(dir, "mode");
    await fs.writeFile(mode, "ok");
    const file = await script(
      "breaks-on-change",
      `import fs from "node:fs";
       if (fs.readFileSync(${JSON.stringify(mode)}, "utf8") === "broken") process.exit(1);
       process.send({ type: "ready" });
       setInterval(() => {}, 1000);`,
    );
    const { s, events, pids, gaveUp } = service(file);
    s.start();
    await waitFor("ready", async () => pids[0] ?? Promise.reject(new Error(events.join("\n"))));

    await fs.writeFile(mode, "broken"); // the "edit" that breaks it
    await s.restart("mode changed");
    await waitFor(
      "the broken start to be noticed",
      async () =>
        events.find((e) => e.includes("after the code change, before it was ready; it starts again on the next change")) ??
        Promise.reject(new Error(events.join("\n"))),
    );
    expect(s.running).toBe(false);
    expect(gaveUp()).toBeUndefined();

    await fs.writeFile(mode, "ok"); // the fix
    await s.restart("mode changed");
    const second = await waitFor("ready again", async () => pids[1] ?? Promise.reject(new Error(events.join("\n"))));
    expect(second).not.toBe(pids[0]);
    expect(s.pid).toBe(second);
  });

  it("stop() kills a process that ignores SIGTERM once the stop timeout has passed", async () => {
    const file = await script("stubborn", 'process.on("SIGTERM", () => {}); process.send({ type: "ready" }); setInterval(() => {}, 1000);');
    const { s, pids, events } = service(file, { stopTimeoutMs: 200 });
    s.start();
    const pid = await waitFor("ready", async () => pids[0] ?? Promise.reject(new Error("not yet")));
    await s.stop();
    expect(isAlive(pid)).toBe(false);
    expect(events.some((e) => e.includes(`pid ${pid} did not stop within`))).toBe(true);
  });

  it("a worker-style restart starts the new process while the old one is still stopping", async () => {
    // On SIGTERM the old one keeps going (like a worker finishing its activities) until released.
    const release = path.join(dir, "release-old");
    const file = await script(
      "slow-stop",
      `import fs from "node:fs";
       process.on("SIGTERM", () => setInterval(() => fs.existsSync(${JSON.stringify(release)}) && process.exit(0), 20));
       process.send({ type: "ready" });
       setInterval(() => {}, 1000);`,
    );
    const { s, pids } = service(file, { overlapRestarts: true });
    s.start();
    const first = await waitFor("ready", async () => pids[0] ?? Promise.reject(new Error("not yet")));
    await s.restart("overlap");
    const second = await waitFor("the new process ready", async () => pids[1] ?? Promise.reject(new Error("not yet")));
    expect(second).not.toBe(first);
    expect(isAlive(first)).toBe(true); // still stopping, and the new one is already up
    await fs.writeFile(release, "");
    await waitFor("the old process to exit", async () => (isAlive(first) ? Promise.reject(new Error("alive")) : true));
    expect(s.pid).toBe(second);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
