// An operation's output, live and resumable: lines reach `operations.output` while the
// milestone still runs, a reader that comes back with the last id it got receives exactly the
// rest, a dropped connection (the retry attaches to the detached run and replays its output
// from the start) stores no line twice, an operation past the cap keeps one note instead of
// the rest, and another user cannot read it.
// Real engine (Postgres, Temporal, a worker) and the SSH test peer, whose bash really prints.
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SupervisorProgram } from "../../generated/prisma/browser";
import type { OutputEvent, OutputLineDto } from "../../trpc/routers/operations";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
let call: (path: string, input: unknown) => Promise<unknown>;

/**
 * A test kind whose one milestone runs the row's `command` (a bash one-liner) in two steps:
 * it borrows the supervisor programs' table, as docs/examples/hello.ts does.
 */
async function registerChatterKind() {
  const { registerResourceKind } = await import("../../catalogue");
  const { defineResource, milestone, step } = await import("../../catalogue/kit");
  registerResourceKind(
    defineResource<SupervisorProgram>()({
      type: "chatter",
      table: "supervisorProgram",
      entity: "supervisor_program",
      api: "chatters",
      parent: "",
      label: { one: "chatter", many: "Chatters" },
      input: z.object({ name: z.string().min(1), command: z.string().min(1) }),
      fields: [{ key: "name", label: "NAME" }],
      create: (input) => ({ name: input.name, command: input.command, directory: "/" }),
      describe: (row) => `“${row.name}”`,
      actions: {
        install: {
          label: "Run",
          plan: (row) => [
            milestone(
              "chatter",
              "Chattering",
              [
                step("Saying hello", "echo", "hello"),
                step("Printing lines", "bash", "-c", row.command),
                // A "quiet…" chatter re-reads what it printed, as a site command's tail is read:
                // kept out of the log, its named output still sets the row's column.
                ...(row.name.startsWith("quiet")
                  ? [
                      { ...step("Re-reading", "bash", "-c", "echo again; echo again-err >&2"), output: "reread", quiet: true },
                      step("Saying bye", "echo", "bye"),
                    ]
                  : []),
              ],
              row.name.startsWith("quiet") ? { sets: { command: "reread" } } : {},
            ),
          ],
        },
        remove: { label: "Remove", plan: () => [milestone("quiet", "Going quiet", [step("Nothing", "true")])] },
      },
    }),
  );
}

beforeAll(async () => {
  // Registered before the routers and activities are first loaded, as an extension would be.
  await registerChatterKind();
  e = await startEngine();
  const { createCallerFactory } = await import("../../trpc/init");
  const { appRouter } = await import("../../trpc/router");
  const user = await e.db.user.findUniqueOrThrow({ where: { id: e.userId } });
  const raw = createCallerFactory(appRouter)({ principal: { user, via: { kind: "session", sessionId: "test" } }, ip: "127.0.0.1" });
  const { callByPath } = await import("../setup/call-by-path");
  call = callByPath(raw) as typeof call;
});
afterAll(async () => {
  await e?.stop();
});

/** Starts a chatter printing `lines` lines ("line 1"…), `delay` seconds apart; returns its operation id. */
async function chatter(serverId: string, lines: number, delay = 0.01, extra = "") {
  const command = `for i in $(seq 1 ${lines}); do echo "line $i"; ${delay > 0 ? `sleep ${delay};` : ""} done${extra}`;
  const row = (await call("chatters.create", { serverId, name: `c${lines}`, command })) as { operationId: string };
  return row.operationId;
}

const untilEnded = (operationId: string) =>
  eventually(async () => {
    const op = await e.db.operation.findUniqueOrThrow({ where: { id: operationId } });
    return ["succeeded", "failed", "cancelled"].includes(op.state) ? op : null;
  }, 60_000);

/** Reads `operations.output` into `lines` until it ends or `stopAfter` lines arrived (then it leaves, as a closed tab would). */
function reader(api: Engine["api"], operationId: string, opts: { after?: string; stopAfter?: number } = {}) {
  const state = { lines: [] as OutputLineDto[], done: null as OutputEvent["done"], sawRunning: false, error: null as unknown };
  const finished = (async () => {
    try {
      const events = await api.operations.output({ operationId, after: opts.after });
      for await (const ev of events) {
        // A caller gets tracked() envelopes as [id, data].
        const data = (Array.isArray(ev) ? ev[1] : ev) as OutputEvent;
        if (data.lines.length > 0) {
          const op = await e.db.operation.findUniqueOrThrow({ where: { id: operationId } });
          if (op.state === "running") state.sawRunning = true;
        }
        state.lines.push(...data.lines);
        if (data.done) state.done = data.done;
        if (opts.stopAfter !== undefined && state.lines.length >= opts.stopAfter) break;
      }
    } catch (err) {
      state.error = err;
    }
  })();
  return { state, finished };
}

const printed = (lines: OutputLineDto[]) => lines.filter((l) => l.stream === "stdout").map((l) => l.text);
const numbers = (n: number, from = 1) => Array.from({ length: n - from + 1 }, (_, i) => `line ${i + from}`);

describe("operation output", () => {
  it("streams lines while the operation runs, and a reader that resumes after its last id gets exactly the rest", async () => {
    const { id: serverId } = await e.addServer();
    const operationId = await chatter(serverId, 300);

    // A reader that goes away after some lines (a browser that lost its connection)…
    const first = reader(e.api, operationId, { stopAfter: 40 });
    await first.finished;
    expect(first.state.error).toBeNull();
    expect(first.state.sawRunning).toBe(true); // lines came before the operation ended
    const lastId = first.state.lines.at(-1)!.id;

    // …and comes back with the last id it had.
    const second = reader(e.api, operationId, { after: lastId });
    await second.finished;
    expect(second.state.error).toBeNull();
    expect(second.state.done).toBe("succeeded");

    const all = [...first.state.lines, ...second.state.lines];
    const ids = all.map((l) => BigInt(l.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(ids).size).toBe(ids.length);
    // Each step's output under its label; the script's markers are not shown.
    expect(all.map((l) => (l.stream === "note" ? `# ${l.text}` : l.text))).toEqual([
      "# ▸ Saying hello",
      "hello",
      "# ▸ Printing lines",
      ...numbers(300),
    ]);
    // The stored lines are the same as what was streamed (the page query agrees).
    const page = await e.api.operations.outputPage({ operationId, limit: 5000 });
    expect(page.lines).toEqual(all);
    expect(page.next).toBeNull();
  });

  it("a connection dropped mid-output: the retry replays the run's output from its start, and no line is stored twice", async () => {
    const { id: serverId } = await e.addServer();
    const operationId = await chatter(serverId, 200, 0.02, "; echo 'no newline at the end' >&2; printf tail");
    const live = reader(e.api, operationId);
    await eventually(
      async () =>
        (await e.db.operationOutput.count({ where: { operationId, stream: "stdout", text: { startsWith: "line" } } })) >= 50 || null,
    );
    e.peer.dropAll(serverId);

    const op = await untilEnded(operationId);
    await live.finished;
    expect(op.state).toBe("succeeded");
    const [milestone] = await e.db.operationMilestone.findMany({ where: { operationId } });
    expect(milestone).toMatchObject({ attempts: 2, failures: 0 }); // it really was retried
    const stored = await e.db.operationOutput.findMany({ where: { operationId }, orderBy: { id: "asc" } });
    expect(printed(stored.map((r) => ({ ...r, id: String(r.id) })))).toEqual(["hello", ...numbers(200), "tail"]);
    expect(stored.filter((r) => r.stream === "stderr").map((r) => r.text)).toEqual(["no newline at the end"]);
    // The live reader got each line once, in order, across the drop.
    expect(live.state.lines.map((l) => l.id)).toEqual(stored.map((r) => String(r.id)));
    expect(live.state.done).toBe("succeeded");
  });

  it("keeps the first 50,000 lines of an operation and one note of how many more there were", async () => {
    const { MAX_OUTPUT_LINES } = await import("../../activities/output");
    const { id: serverId } = await e.addServer();
    const started = Date.now();
    const operationId = await chatter(serverId, MAX_OUTPUT_LINES + 500, 0);
    const op = await untilEnded(operationId);
    const seconds = (Date.now() - started) / 1000;
    expect(op.state).toBe("succeeded");
    expect(await e.db.operationOutput.count({ where: { operationId } })).toBe(MAX_OUTPUT_LINES + 1);
    const last = await e.db.operationOutput.findFirstOrThrow({ where: { operationId }, orderBy: { id: "desc" } });
    // hello + 2 step notes + 49,997 printed lines are kept: 503 of the printed lines are not.
    expect(last).toMatchObject({ stream: "note", text: "… output truncated (503 more lines)" });
    console.info(`operation-output: ${MAX_OUTPUT_LINES + 503} lines through the engine in ${seconds.toFixed(1)} s`);
  }, 120_000);

  it("a quiet step's lines are not stored (no note for it either), while its named output still sets the row", async () => {
    const { id: serverId } = await e.addServer();
    const row = (await call("chatters.create", { serverId, name: "quiet1", command: "echo one; echo two >&2" })) as {
      id: string;
      operationId: string;
    };
    expect((await untilEnded(row.operationId)).state).toBe("succeeded");
    const { lines } = await e.api.operations.outputPage({ operationId: row.operationId, limit: 100 });
    // (stdout and stderr reach the worker by separate pipes: their relative order is not kept.)
    expect(lines.filter((l) => l.stream !== "stderr").map((l) => `${l.stream}: ${l.text}`)).toEqual([
      "note: ▸ Saying hello",
      "stdout: hello",
      "note: ▸ Printing lines",
      "stdout: one",
      "note: ▸ Saying bye",
      "stdout: bye",
    ]);
    expect(lines.filter((l) => l.stream === "stderr").map((l) => l.text)).toEqual(["two"]);
    expect((await e.db.supervisorProgram.findUniqueOrThrow({ where: { id: row.id } })).command).toBe("again");
  });

  it("another user can neither read nor follow the output (NOT_FOUND, as for the operation itself)", async () => {
    const { id: serverId } = await e.addServer();
    const operationId = await chatter(serverId, 3, 0);
    await untilEnded(operationId);
    const other = await e.db.user.create({ data: { email: `other-${operationId}@example.com`, passwordHash: "x" } });
    const { createCaller } = await import("../../trpc/router");
    const theirs = createCaller({ principal: { user: other, via: { kind: "session", sessionId: "o" } }, ip: "127.0.0.1" });
    await expect(theirs.operations.outputPage({ operationId })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const sub = reader(theirs, operationId);
    await sub.finished;
    expect(sub.state.error).toMatchObject({ code: "NOT_FOUND" });
    expect(sub.state.lines).toEqual([]);
    // The owner reads it.
    expect(printed((await e.api.operations.outputPage({ operationId })).lines)).toEqual(["hello", ...numbers(3)]);
  });
});
