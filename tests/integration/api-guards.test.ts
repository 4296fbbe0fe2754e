// Which action may start from which status, for every resource kind × action × status: the
// row is put in the status in the database, the user clicks the action through the API, and
// the answer is either "queued" (the row shows the action's queued status, one operation is
// queued) or a CONFLICT that says why (the row and the operations untouched).
//
// The table is built from the definitions (the catalogue's kinds and statusesOf), so a new
// kind or action is covered without editing this file. Built from the code alone it could
// only agree with the code; the expectations a user has without reading it are written out
// by hand below and checked against the same answers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The kinds with generated routers; the site kinds' own router is covered by api-sites.test.ts.
import { generatedRouterKinds as allKinds } from "../../catalogue";
import { statusesOf, type ResourceKind } from "../../catalogue/kit";
import type { Action } from "../../domain/resources";
import { TASK_STATUSES, type TaskStatus } from "../../domain/status";
import { insertResource } from "../setup/kind-samples";
import { startEngine, type Engine } from "../setup/engine";

let e: Engine;

// No worker: the answer of the mutation is what is tested; queued operations stay queued
// (their queue workflows are ended after each case), so nothing runs on a server.
beforeAll(async () => {
  e = await startEngine({ worker: false });
});
afterAll(async () => {
  await e?.stop();
});

/** The mutation a user calls for an action: install is offered as `retry` (create is the first install). */
const mutationOf = (action: Action) => (action === "install" ? "retry" : action);

interface Case {
  api: string;
  mutation: string;
  status: TaskStatus;
  kind: ResourceKind;
  action: Action;
  allowed: boolean;
}

const cases: Case[] = allKinds().flatMap((kind) =>
  (Object.keys(kind.actions) as Action[]).flatMap((action) =>
    TASK_STATUSES.map((status) => ({
      api: kind.api,
      mutation: mutationOf(action),
      status,
      kind,
      action,
      allowed: statusesOf(kind, action).from.includes(status),
    })),
  ),
);

// What a user knows without reading the code. Each must be in the table above, with this answer.
const USER_EXPECTS: Array<[api: string, mutation: string, status: TaskStatus, allowed: boolean]> = [
  ["firewall", "remove", "installing", false], // cannot remove while it is being added
  ["firewall", "remove", "pending", false],
  ["firewall", "remove", "removing", false], // already on its way out
  ["firewall", "remove", "active", true],
  ["firewall", "remove", "failed", true], // a failed rule can be taken away
  ["firewall", "retry", "failed", true],
  ["firewall", "retry", "active", false], // nothing to retry
  ["firewall", "retry", "installing", false],
  ["scheduler", "pause", "active", true],
  ["scheduler", "pause", "paused", false],
  ["scheduler", "pause", "installing", false],
  ["scheduler", "resume", "paused", true],
  ["scheduler", "resume", "active", false],
  ["scheduler", "remove", "paused", true], // a paused task can be removed
  ["supervisor", "restart", "active", true],
  ["supervisor", "restart", "failed", false],
  ["supervisor", "restart", "updating", false], // a restart is already under way
  ["supervisor", "remove", "removing", false],
  ["packages", "remove", "installing", false], // cannot uninstall while it installs
  ["packages", "remove", "active", true],
  ["packages", "retry", "failed", true],
  ["packages", "retry", "pending", false],
];

/** The caller's procedure `<api>.<mutation>`: the routers are generated per kind, so the path is data here. */
function procedureOf(api: object, router: string, name: string): (input: { id: string }) => Promise<unknown> {
  const fn: unknown = Reflect.get(Reflect.get(api, router), name);
  if (typeof fn !== "function") throw new Error(`no procedure ${router}.${name}`);
  return (input) => Promise.resolve(fn(input));
}

/** A user of their own with a server of their own (rows only: nothing connects to it). */
async function newOwner(label: string) {
  const { createCaller } = await import("../../trpc/router");
  const user = await e.db.user.create({
    data: { email: `${label}-${Math.random().toString(36).slice(2)}@example.com`, passwordHash: "x" },
  });
  const server = await e.db.server.create({ data: { userId: user.id, name: label, host: "192.0.2.30", sshPort: 22, sshUser: "root" } });
  const api = createCaller({ principal: { user, via: { kind: "session", sessionId: `s-${user.id}` } }, ip: "127.0.0.1" });
  return { user, server, api };
}

describe("the table matches what a user expects", () => {
  it.each(USER_EXPECTS)("%s.%s from %s: allowed = %s", (api, mutation, status, allowed) => {
    const row = cases.find((c) => c.api === api && c.mutation === mutation && c.status === status);
    expect(row, `${api}.${mutation} is not an action of the catalogue`).toBeDefined();
    expect(row!.allowed).toBe(allowed);
  });

  it("every action can start from some status, and none from a status it is itself busy in", () => {
    for (const kind of allKinds()) {
      for (const action of Object.keys(kind.actions) as Action[]) {
        const { from, during, queued } = statusesOf(kind, action);
        expect(from.length, `${kind.api}.${action}`).toBeGreaterThan(0);
        expect(from, `${kind.api}.${action}`).not.toContain(during);
        expect(from, `${kind.api}.${action}`).not.toContain(queued);
      }
    }
  });
});

describe("every kind × action × status through the API", () => {
  it.each(cases.map((c) => [c.api, c.mutation, c.status, c.allowed ? "queues it" : "CONFLICT", c] as const))(
    "%s.%s from %s → %s",
    async (_api, _mutation, status, _answer, c) => {
      const { server, api } = await newOwner(`${c.api}-${c.mutation}-${status}`);
      const row = await insertResource(c.kind, server, status);
      const call = procedureOf(api, c.api, c.mutation)({ id: row.id });
      const { resourceTable } = await import("../../core/resources");
      const statusNow = async () => (await resourceTable(c.kind).findUnique({ where: { id: row.id } }))?.status;

      if (c.allowed) {
        await expect(call).resolves.toMatchObject({ id: row.id, operationId: expect.any(String) });
        expect(await statusNow()).toBe(statusesOf(c.kind, c.action).queued);
        const ops = await e.db.operation.findMany({ where: { resourceId: row.id } });
        expect(ops).toHaveLength(1);
        // Only re-running a failed install is a retry (rate-limited, titled "Retry:"): the same
        // mutation starting a provisioning that waits for its first run, or re-running a finished one, is not.
        const isRetry = c.mutation === "retry" && status === "failed";
        expect(ops[0]).toMatchObject({ action: c.action, state: "queued", isRetry, previousStatus: status });
        const { stopServerQueue } = await import("../../core/operations");
        await stopServerQueue(server.id); // no worker would ever run it
      } else {
        const verb = c.mutation;
        await expect(call).rejects.toMatchObject({
          code: "CONFLICT",
          message: expect.stringMatching(
            new RegExp(`^Can't ${verb} while it is ${status} \\(only when ${statusesOf(c.kind, c.action).from.join(" or ")}\\)$`),
          ),
        });
        expect(await statusNow()).toBe(status);
        expect(await e.db.operation.count({ where: { resourceId: row.id } })).toBe(0);
      }
    },
  );

  it("an action a kind does not have is not offered (firewall rules cannot be paused)", async () => {
    const { server, api } = await newOwner("no-pause");
    const kind = allKinds().find((k) => k.api === "firewall")!;
    const row = await insertResource(kind, server, "active");
    await expect(procedureOf(api, "firewall", "pause")({ id: row.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await e.db.firewallRule.findUniqueOrThrow({ where: { id: row.id } })).status).toBe("active");
  });
});
