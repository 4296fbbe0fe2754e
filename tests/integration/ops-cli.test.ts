// The ops CLI (scripts/ops.ts) and the API client (trpc/client.ts) against the real stack:
// Postgres, the Temporal dev server, an in-process worker, the SSH test peer and the web server
// (HTTP + ws). The CLI runs as a child process with nothing but BROKEFORGE_URL/BROKEFORGE_TOKEN.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LiveEvent } from "../../domain/live";
import { createBrokeForgeClient } from "../../trpc/client";
import { startTestWeb } from "../setup/app";
import { eventually, startEngine, type Engine } from "../setup/engine";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  e = await startEngine(); // sets up the test env (database, task queue, secrets) itself
  web = await startTestWeb();
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await web?.close();
  await e?.stop();
});

/**
 * A user of the test's own with an API token and a server (on the SSH test peer), so tests
 * share nothing and pass in any order.
 */
async function newAccount(label: string) {
  const { createCaller } = await import("../../trpc/router");
  const user = await e.db.user.create({
    data: { email: `${label}-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: "x" },
  });
  const api = createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${user.id}` } }, ip: "127.0.0.1" });
  const { token } = await api.tokens.create({ name: "ops-cli" });
  // addServer sets it up like a user would (key authorized on the peer, packages installed); then it is handed over.
  const { id: serverId } = await e.addServer(label);
  await e.db.server.update({ where: { id: serverId }, data: { userId: user.id } });
  const env = (extra: Record<string, string | undefined> = {}) => cliEnv(token, extra);
  return { userId: user.id, api, token, serverId, env };
}
type Account = Awaited<ReturnType<typeof newAccount>>;

/** Only what a user's shell would pass: no database URL, no secrets. */
function cliEnv(token: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/root" };
  for (const [k, v] of Object.entries({ BROKEFORGE_URL: web.url, BROKEFORGE_TOKEN: token, ...extra })) if (v !== undefined) env[k] = v;
  return env as NodeJS.ProcessEnv; // the app's global types make NODE_ENV required; the CLI doesn't read it
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "scripts/ops.ts", ...args],
      { cwd: ROOT, env, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

/** `watch …` as a long-running child: its stdout lines parsed as events, its stderr kept. */
function spawnWatch(account: Account, args: string[]) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/ops.ts", "watch", ...args], {
    cwd: ROOT,
    env: account.env(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const lines: string[] = [];
  let stderr = "";
  createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    lines,
    events: () => lines.map((l) => JSON.parse(l) as LiveEvent),
    ids: () => lines.map((l) => (JSON.parse(l) as LiveEvent).id),
    stderr: () => stderr,
    exited,
    /** Waits until stderr matches (fails early, with the output, if the process exits). */
    async untilStderr(re: RegExp, timeoutMs = 30_000) {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`watch exited ${child.exitCode}:\n${stderr}`);
        return re.test(stderr) || null;
      }, timeoutMs);
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      child.kill(signal);
      return exited;
    },
  };
}

/** An in-test ws subscription to live.server through the client module. */
function subscribeInTest(token: string, serverId: string) {
  const client = createBrokeForgeClient({ url: web.url, token });
  const events: LiveEvent[] = [];
  const errors: unknown[] = [];
  let started = false;
  const sub = client.trpc.live.server.subscribe(
    { serverId },
    {
      onStarted: () => (started = true),
      onData: ({ data }) => events.push(data),
      onError: (err) => errors.push(err),
    },
  );
  return {
    events,
    errors,
    ids: () => events.map((ev) => ev.id),
    started: () => started,
    close() {
      sub.unsubscribe();
      client.close();
    },
  };
}

/** ChangeEvent ids after `after`, of one server (or of all of a user's servers), in order. */
const eventIdsOf = async (scope: { serverId: string } | { userId: string }, after: string) =>
  (
    await e.db.changeEvent.findMany({
      where: { ...scope, id: { gt: BigInt(after) } },
      orderBy: { id: "asc" },
      select: { id: true },
    })
  ).map((r) => String(r.id));
const newestEventId = async (scope: { serverId: string } | { userId: string }) =>
  String(
    (
      await e.db.changeEvent.findFirst({
        where: scope,
        orderBy: { id: "desc" },
        select: { id: true },
      })
    )?.id ?? 0n,
  );
const touchServer = (sid: string) => e.db.server.update({ where: { id: sid }, data: { updatedAt: new Date() } });
const after = (ids: string[], start: string) => ids.filter((id) => BigInt(id) > BigInt(start));
/** Every operation of the server has ended: the engine writes nothing more for it. */
const untilQuiet = (sid: string) =>
  eventually(async () => (await e.db.operation.count({ where: { serverId: sid, state: { in: ["queued", "running"] } } })) === 0 || null);
/**
 * One more change on the server, and its event id once `watcher` printed it: events come in
 * commit order, so everything committed before it has been printed by then (instead of a sleep).
 */
async function marker(watcher: ReturnType<typeof spawnWatch>, sid: string): Promise<string> {
  await touchServer(sid);
  const id = await newestEventId({ serverId: sid });
  await eventually(async () => watcher.ids().includes(id) || null);
  return id;
}

describe("one-shot commands", () => {
  it("servers lists the server as a table, and as JSON with --json", async () => {
    const { serverId, env } = await newAccount("ops-box");
    const table = await cli(["servers"], env());
    expect(table).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = table.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+HOST\s+CONNECTION\s+OPERATION$/);
    const row = rows.find((r) => r.startsWith(serverId));
    expect(row).toMatch(new RegExp(`^${serverId}\\s+ops-box\\s+127\\.0\\.0\\.1:${e.peer.port}\\s+\\w+\\s+`));
    // Aligned: every column starts at the same offset on every line.
    expect(header!.indexOf("NAME")).toBe(row!.indexOf("ops-box"));

    const json = await cli(["servers", "--json"], env());
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as Array<{
      id: string;
      name: string;
      host: string;
      connectionStatus: string;
      currentOperation: unknown;
      createdAt: unknown;
    }>;
    const listed = list.find((s) => s.id === serverId);
    expect(listed).toMatchObject({ name: "ops-box", host: "127.0.0.1", currentOperation: null });
    // Plain JSON, not tRPC's superjson wire format: dates are ISO 8601 strings.
    expect(json.stdout).not.toMatch(/"json"|"meta"/);
    const stored = await e.db.server.findUniqueOrThrow({ where: { id: serverId } });
    expect(listed!.createdAt).toBe(stored.createdAt.toISOString());
  });

  it("firewall add queues a rule that becomes active; ls and operations show it; rm removes it", async () => {
    const { serverId, env } = await newAccount("ops-firewall");
    const added = await cli(
      ["firewall", "add", serverId, "--name", "web", "--port", "8443", "--protocol", "tcp", "--from", "10.0.0.0/8"],
      env(),
    );
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const [ruleId, status] = added.stdout.trim().split(" ");
    expect(status).toBe("pending");
    const rule = await eventually(async () => {
      const r = await e.db.firewallRule.findUnique({ where: { id: ruleId } });
      return r?.status === "active" ? r : null;
    });
    expect(rule).toMatchObject({ serverId, name: "web", port: "8443", protocol: "tcp", action: "allow", source: "10.0.0.0/8" });

    const ls = await cli(["firewall", "ls", serverId], env());
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`${ruleId}\\s+web\\s+8443\\s+tcp\\s+allow\\s+10\\.0\\.0\\.0/8\\s+active`));

    await eventually(async () => (await e.db.operation.findFirst({ where: { resourceId: ruleId, state: "succeeded" } })) ?? null);
    const ops = await cli(["operations", serverId, "--limit", "5"], env());
    expect(ops.code).toBe(0);
    const [header, newest] = ops.stdout.split("\n");
    expect(header).toMatch(/^KIND\s+STATE\s+STEP\s+WHEN\s+WHAT\s+ERROR$/);
    expect(newest).toMatch(
      /^firewall_rule\.install\s+succeeded\s+(\d+)\/\1\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+s ago\)\s+Add firewall rule “web” \(allow 8443\/tcp from 10\.0\.0\.0\/8\)$/,
    );

    const rm = await cli(["firewall", "rm", ruleId!], env());
    expect(rm.code).toBe(0);
    expect(rm.stdout).toMatch(new RegExp(`^${ruleId} removing \\(operation \\w+\\)\n$`));
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: ruleId } })) === null || null);
    await eventually(
      async () => (await e.db.operation.findFirst({ where: { resourceId: ruleId, action: "remove", state: "succeeded" } })) ?? null,
    );
    expect((await cli(["firewall", "ls", serverId], env())).stdout).toBe("No firewall rules.\n");
  });

  it("every resource kind gets the same commands from its definition: scheduler add, pause, ls", async () => {
    const { serverId, env } = await newAccount("ops-scheduler");
    const added = await cli(
      ["scheduler", "add", serverId, "--name", "backup", "--command", "echo 'hi there'", "--frequency", "daily"],
      env(),
    );
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const [taskId] = added.stdout.trim().split(" ");
    await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: taskId } }))?.status === "active" || null);
    const paused = await cli(["scheduler", "pause", taskId!], env());
    expect(paused.stdout).toMatch(new RegExp(`^${taskId} pause queued \\(operation \\w+\\)\n$`));
    await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: taskId } }))?.status === "paused" || null);
    const ls = await cli(["scheduler", "ls", serverId], env());
    expect(ls.stdout).toMatch(new RegExp(`${taskId}\\s+backup\\s+root\\s+daily\\s+0 0 \\* \\* \\*\\s+echo 'hi there'\\s+paused`));
    expect((await cli(["scheduler", "restart", taskId!], env())).code).toBe(2); // not an action of this kind
  });

  it("a bad port prints the field error and exits 1, creating nothing", async () => {
    const { serverId, env } = await newAccount("ops-bad-port");
    const bad = await cli(["firewall", "add", serverId, "--name", "x", "--port", "70000"], env());
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("error: invalid input");
    expect(bad.stderr).toContain("--port (port): Ports must be between 1 and 65535");

    // Every bad field at once, one line each.
    const several = await cli(["firewall", "add", serverId, "--port", "80", "--protocol", "sctp", "--from", "nope"], env());
    expect(several.code).toBe(1);
    expect(several.stderr).toMatch(/^ {2}--name \(name\): Name is required$/m);
    expect(several.stderr).toMatch(/^ {2}--protocol \(protocol\): Choose TCP, UDP or any$/m);
    expect(several.stderr).toMatch(/^ {2}--from \(source\): Enter an IPv4 or IPv6 address/m);
    expect(several.stderr).not.toMatch(/--port/);
    expect(await e.db.firewallRule.count({ where: { serverId } })).toBe(0);
  });

  it("without BROKEFORGE_TOKEN it says so and fails; a wrong token is rejected; bad usage exits 2", async () => {
    const { env } = await newAccount("ops-usage");
    const missing = await cli(["servers"], env({ BROKEFORGE_TOKEN: undefined }));
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/BROKEFORGE_TOKEN is not set/);
    const wrong = await cli(["servers"], env({ BROKEFORGE_TOKEN: "bf_not-a-token" }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/rejected BROKEFORGE_TOKEN/);
    const unknown = await cli(["frobnicate"], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command: frobnicate[\s\S]*Usage:/);
    expect((await cli(["firewall", "add"], env())).code).toBe(2);
    expect((await cli(["servers", "--bogus"], env())).code).toBe(2);
    const help = await cli(["help"], env({ BROKEFORGE_TOKEN: undefined }));
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/firewall add <serverId> --name … --port … --protocol … --action … --from …/);
    expect(help.stdout).toMatch(/scheduler pause\|resume|scheduler retry\|pause\|resume <id>/);
  });

  it("watch on a server the token's user doesn't own fails with NOT_FOUND", async () => {
    const mine = await newAccount("ops-watch-owner");
    const other = await newAccount("ops-watch-other");
    const w = spawnWatch(other, [mine.serverId]);
    expect(await w.exited).toEqual({ code: 1, signal: null });
    expect(w.stderr()).toMatch(/Server not found \(NOT_FOUND\)/);
  });
});

describe("watch", () => {
  it("prints the same events, in the same order, as an in-test ws subscription, and exits 0 on SIGTERM", async () => {
    const account = await newAccount("ops-watch");
    const { serverId } = account;
    await untilQuiet(serverId);
    const watcher = spawnWatch(account, [serverId]);
    const inTest = subscribeInTest(account.token, serverId);
    let start: string;
    try {
      await watcher.untilStderr(/watch: subscribed to server/);
      await eventually(async () => inTest.started() || null);
      // A fresh subscriber starts "from now" once its generator has run: touch the server until
      // both have seen an event, then wait for quiet, so both start from the same place.
      await eventually(async () => {
        await touchServer(serverId);
        return (watcher.lines.length > 0 && inTest.events.length > 0) || null;
      });
      start = await eventually(async () => {
        const newest = await newestEventId({ serverId });
        return watcher.ids().at(-1) === newest && inTest.ids().at(-1) === newest ? newest : null;
      });

      const added = await cli(["firewall", "add", serverId, "--name", "live", "--port", "9443"], account.env());
      expect(added.code).toBe(0);
      const ruleId = added.stdout.split(" ")[0]!;
      await eventually(async () => (await e.db.operation.findFirst({ where: { resourceId: ruleId, state: "succeeded" } })) ?? null);
      expect((await e.db.firewallRule.findUniqueOrThrow({ where: { id: ruleId } })).status).toBe("active");
      await untilQuiet(serverId);
      const lifecycle = await eventually(async () => {
        const rows = await eventIdsOf({ serverId }, start);
        return rows.length > 0 && after(watcher.ids(), start).length === rows.length && after(inTest.ids(), start).length === rows.length
          ? rows
          : null;
      });

      expect(after(watcher.ids(), start)).toEqual(lifecycle);
      expect(after(inTest.ids(), start)).toEqual(lifecycle);
      // Whole events agree too, key order included: {"id","serverId","entity","entityId","action"}.
      const cliEvents = watcher.events().filter((ev) => BigInt(ev.id) > BigInt(start));
      expect(cliEvents).toEqual(inTest.events.filter((ev) => BigInt(ev.id) > BigInt(start)));
      for (const line of watcher.lines) expect(Object.keys(JSON.parse(line))).toEqual(["id", "serverId", "entity", "entityId", "action"]);
      expect(cliEvents.filter((ev) => ev.entityId === ruleId).map((ev) => `${ev.entity}:${ev.action}`)).toEqual([
        "firewall_rule:insert", // pending
        "firewall_rule:update", // installing
        "firewall_rule:update", // active
      ]);
      expect([...new Set(cliEvents.map((ev) => ev.entity))]).toEqual(
        expect.arrayContaining(["firewall_rule", "operation", "operation_milestone"]),
      );
      expect(cliEvents.every((ev) => ev.serverId === serverId)).toBe(true);
      expect(inTest.errors).toEqual([]);
    } finally {
      inTest.close();
    }
    expect(await watcher.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(watcher.stderr()).not.toMatch(/error|connection lost/i);
  });

  it("watch --since <id> replays exactly the events after that id", async () => {
    const account = await newAccount("ops-since");
    const { serverId } = account;
    const rule = await account.api.firewall.create({ serverId, name: "since", port: "9444", protocol: "tcp", action: "allow", source: "" });
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } }))?.status === "active" || null);
    await untilQuiet(serverId);
    // The rule's insert: replay the rest of its lifecycle.
    const { id: since } = await e.db.changeEvent.findFirstOrThrow({ where: { entityId: rule.id, action: "insert" } });
    const expected = await eventIdsOf({ serverId }, String(since));
    expect(expected.length).toBeGreaterThanOrEqual(2); // installing, active, and the operation's

    const watcher = spawnWatch(account, [serverId, "--since", String(since)]);
    await watcher.untilStderr(new RegExp(`replaying after event ${since}`));
    await eventually(async () => watcher.lines.length >= expected.length || null);
    // Nothing else is printed before the next change.
    const next = await marker(watcher, serverId);
    expect(watcher.ids()).toEqual([...expected, next]);
    expect(await watcher.stop("SIGINT")).toEqual({ code: 0, signal: null });
  });

  it("watch (all servers) with --since, then keeps going across a web server restart without a gap", async () => {
    const account = await newAccount("ops-all");
    const { serverId, userId } = account;
    await untilQuiet(serverId);
    const since = await newestEventId({ userId });
    const watcher = spawnWatch(account, ["--since", since]);
    await watcher.untilStderr(/watch: subscribed to all servers/);
    await touchServer(serverId);
    await eventually(async () => watcher.lines.length === 1 || null);

    // Take the web server down; changes happen while the CLI has no connection.
    const port = new URL(web.url).port;
    await web.close();
    await watcher.untilStderr(/connection lost/);
    await touchServer(serverId);
    await touchServer(serverId);
    const { startWebServer } = await import("../../web/server");
    web = await startWebServer({ port: Number(port) });

    await watcher.untilStderr(/reconnected, resuming after event \d+/);
    expect(await eventIdsOf({ userId }, since)).toHaveLength(3);
    await eventually(async () => watcher.lines.length >= 3 || null);
    // Live events flow again; when this one is printed, every earlier one has been.
    const next = await marker(watcher, serverId);
    expect(watcher.ids()).toEqual(await eventIdsOf({ userId }, since));
    expect(watcher.ids()).toHaveLength(4);
    expect(watcher.ids().at(-1)).toBe(next);
    expect(await watcher.stop()).toEqual({ code: 0, signal: null });
  });
});
