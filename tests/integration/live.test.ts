// Live change events over tRPC ws: ownership, resume without gap or duplicate across a web
// restart, and ids that follow commit order.
import { createTRPCClient, createWSClient, wsLink } from "@trpc/client";
import pg from "pg";
import superjson from "superjson";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../trpc/router";
import type { LiveEvent } from "../../domain/live";
import { startTestWeb } from "../setup/app";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let web: Awaited<ReturnType<typeof startTestWeb>>;
let port: number;
let token: string;

beforeAll(async () => {
  e = await startEngine();
  web = await startTestWeb();
  port = Number(new URL(web.url).port);
  token = (await e.api.tokens.create({ name: "live-test" })).token;
});
afterAll(async () => {
  await web?.close();
  await e?.stop();
});

function subscribe(opts: { token: string; serverId?: string; lastEventId?: string }) {
  const events: LiveEvent[] = [];
  const starts: string[] = [];
  const errors: unknown[] = [];
  const client = createWSClient({
    url: `ws://127.0.0.1:${port}/trpc`,
    connectionParams: { token: opts.token },
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 200,
  });
  const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client, transformer: superjson })] });
  const handlers = {
    // The first message of a fresh subscription marks its resume point; it is not a change.
    onData: (ev: { id: string; data: LiveEvent }) => (ev.data.entity === "stream" ? starts.push(ev.id) : events.push(ev.data)),
    onError: (err: unknown) => errors.push(err),
  };
  const sub = opts.serverId
    ? trpc.live.server.subscribe({ serverId: opts.serverId, lastEventId: opts.lastEventId }, handlers)
    : trpc.live.all.subscribe({ lastEventId: opts.lastEventId }, handlers);
  return {
    events,
    starts,
    errors,
    close() {
      sub.unsubscribe();
      client.close();
    },
  };
}

const untilActive = (id: string) =>
  eventually(async () => (await e.db.firewallRule.findUnique({ where: { id } }))?.status === "active" || null);

/** Every operation of the server has ended: no more events will come from the engine. */
const untilQuiet = (serverId: string) =>
  eventually(async () => (await e.db.operation.count({ where: { serverId, state: { in: ["queued", "running"] } } })) === 0 || null);

/** A subscription that should work: it has started and has had no error (a failed one has no events either). */
const untilStarted = (sub: ReturnType<typeof subscribe>) =>
  eventually(async () => {
    if (sub.errors.length > 0) throw new Error(`subscription failed: ${String(sub.errors[0])}`);
    return sub.starts.length === 1 || null;
  });

/**
 * Commits one more change on the server and waits until `sub` has it: events arrive in commit
 * order, so once it is there, everything committed before it has been delivered (no sleep).
 */
async function marker(sub: ReturnType<typeof subscribe>, serverId: string): Promise<string> {
  await e.db.server.update({ where: { id: serverId }, data: { updatedAt: new Date() } });
  const newest = await e.db.changeEvent.findFirstOrThrow({ where: { serverId }, orderBy: { id: "desc" } });
  const id = String(newest.id);
  await eventually(async () => sub.events.some((ev) => ev.id === id) || null, 20_000);
  return id;
}

describe("live events", () => {
  it("delivers a server's events to its owner, and nothing to another user (who can't subscribe to it)", async () => {
    const server = await e.addServer("live-owner");
    const mine = subscribe({ token, serverId: server.id });
    const other = await e.db.user.create({ data: { email: `other-${server.id}@example.com`, passwordHash: "x" } });
    const { createCaller } = await import("../../trpc/router");
    const otherApi = createCaller({ principal: { user: other, via: { kind: "session", sessionId: "o" } }, ip: "127.0.0.1" });
    const otherToken = (await otherApi.tokens.create({ name: "x" })).token;
    const theirs = subscribe({ token: otherToken, serverId: server.id });
    const theirAll = subscribe({ token: otherToken });
    await untilStarted(mine);
    await untilStarted(theirAll);
    // Subscribing to someone else's server fails outright (it is not an empty feed).
    await eventually(async () => theirs.errors.length > 0 || null);
    expect(JSON.stringify(theirs.errors[0])).toMatch(/NOT_FOUND|Server not found/);
    expect(theirs.starts).toEqual([]);

    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "http",
      port: "80",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await untilActive(rule.id);
    await untilQuiet(server.id);
    await eventually(async () => mine.events.some((ev) => ev.entityId === rule.id && ev.action === "update") || null);
    // The other user's live feed works: a change on their own server reaches it. It was
    // committed after every change above, so by the time it arrives any of those that leaked
    // to them would have arrived first.
    const { id: theirServer } = await otherApi.servers.create({ name: "theirs", host: "192.0.2.50", sshPort: 22, sshUser: "root" });
    await eventually(async () => theirAll.events.some((ev) => ev.serverId === theirServer) || null);
    expect(theirAll.events.filter((ev) => ev.serverId !== theirServer)).toEqual([]);
    expect(theirAll.errors).toEqual([]);
    expect(mine.errors).toEqual([]);
    expect(mine.starts).toHaveLength(1);
    expect(mine.events.every((ev) => ev.serverId === server.id)).toBe(true);
    expect(Object.keys(mine.events[0]!).sort()).toEqual(["action", "entity", "entityId", "id", "serverId"]);
    for (const s of [mine, theirs, theirAll]) s.close();
  });

  it("resumes across a web restart: every event exactly once, in order", async () => {
    const server = await e.addServer("live-resume");
    const sub = subscribe({ token, serverId: server.id });
    await untilStarted(sub);
    const start = BigInt(sub.starts[0]!);

    // Hold the second rule's command so events keep coming while the web server is down.
    const hold = (await e.peer.server(server.id)).hold("ufw", " port 8081 ");
    const first = await e.api.firewall.create({
      serverId: server.id,
      name: "a",
      port: "8080",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    const second = await e.api.firewall.create({
      serverId: server.id,
      name: "b",
      port: "8081",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await untilActive(first.id);
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: second.id } }))?.status === "installing" || null);
    await eventually(async () => sub.events.some((ev) => ev.entityId === second.id) || null);

    await web.close(); // every socket drops; the client keeps retrying
    const third = await e.api.firewall.create({
      serverId: server.id,
      name: "c",
      port: "8082",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    hold.open();
    await untilActive(second.id);
    await untilActive(third.id);
    await untilQuiet(server.id);
    web = await startTestWebOn(port);

    // The marker is the server's last change: when it has arrived, so has everything else.
    await marker(sub, server.id);
    const expected = await e.db.changeEvent.findMany({ where: { serverId: server.id, id: { gt: start } }, orderBy: { id: "asc" } });
    const got = sub.events.map((ev) => ev.id);
    expect(new Set(got).size).toBe(got.length); // no duplicate
    expect(got).toEqual(expected.map((row) => String(row.id))); // no gap, commit order
    expect(sub.errors).toEqual([]);
    sub.close();
  });

  it("resumes from its start point when the connection drops before any event arrived", async () => {
    const server = await e.addServer("live-early-drop");
    const sub = subscribe({ token, serverId: server.id });
    await untilStarted(sub);
    await web.close();
    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "early",
      port: "8443",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await untilActive(rule.id);
    await untilQuiet(server.id);
    web = await startTestWebOn(port);
    await marker(sub, server.id);
    const expected = await e.db.changeEvent.findMany({
      where: { serverId: server.id, id: { gt: BigInt(sub.starts[0]!) } },
      orderBy: { id: "asc" },
    });
    expect(expected.some((row) => row.entityId === rule.id)).toBe(true); // the rule's events came while it was away
    expect(sub.events.map((ev) => ev.id)).toEqual(expected.map((row) => String(row.id)));
    expect(sub.errors).toEqual([]);
    sub.close();
  });

  it("hands out event ids in commit order, even when a transaction that started first commits last", async () => {
    const server = await e.addServer("live-order");
    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "x",
      port: "9000",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await untilActive(rule.id);
    const slow = new pg.Client({ connectionString: e.env.database.url });
    const fast = new pg.Client({ connectionString: e.env.database.url });
    await Promise.all([slow.connect(), fast.connect()]);
    try {
      await slow.query("BEGIN");
      await slow.query(`UPDATE "FirewallRule" SET "errorLog" = 'slow' WHERE id = $1`, [rule.id]);
      await fast.query(`UPDATE "Server" SET name = 'renamed' WHERE id = $1`, [server.id]);
      await slow.query("COMMIT");
    } finally {
      await Promise.all([slow.end(), fast.end()]);
    }
    const [serverEvent] = await e.db.changeEvent.findMany({
      where: { entityId: server.id, action: "update" },
      orderBy: { id: "desc" },
      take: 1,
    });
    const [ruleEvent] = await e.db.changeEvent.findMany({ where: { entityId: rule.id }, orderBy: { id: "desc" }, take: 1 });
    expect(ruleEvent!.id).toBeGreaterThan(serverEvent!.id);
  });
});

async function startTestWebOn(p: number) {
  const { startWebServer } = await import("../../web/server");
  return startWebServer({ port: p });
}
