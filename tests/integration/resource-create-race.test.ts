// Two browser tabs (or a script and a person) adding the same firewall rule at the same moment:
// ufw keeps one rule per port, protocol and source, so BrokeForge must end with one row too.
// The "same as" check and the insert run under one per-server lock (trpc/lifecycle.ts); without
// it both checks pass before either insert and two rows go `pending` for one server rule.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngine, type Engine } from "../setup/engine";

let e: Engine;
beforeAll(async () => {
  e = await startEngine({ worker: false }); // nothing needs to run on the server: rows only
});
afterAll(async () => e?.stop());

describe("creating the same rule concurrently", () => {
  it("keeps exactly one; every other request gets the field error", async () => {
    const server = await e.addServer("race");
    // Open the pool's connections first: otherwise each request waits for a new connection
    // of its own, which spreads them out in time and hides the race this test is about.
    await Promise.all(Array.from({ length: 10 }, () => e.db.$executeRaw`SELECT pg_sleep(0.05)`));
    const attempts = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        e.api.firewall.create({
          serverId: server.id,
          name: `web-${i}`,
          port: "443",
          protocol: "tcp",
          action: i % 2 ? "deny" : "allow",
          source: "",
        }),
      ),
    );
    const created = attempts.filter((a) => a.status === "fulfilled");
    const refused = attempts.filter((a): a is PromiseRejectedResult => a.status === "rejected");
    expect(created).toHaveLength(1);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r.reason).toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringMatching(/^A rule for 443\/tcp from anywhere exists already/),
      });
    }
    expect(await e.db.firewallRule.count({ where: { serverId: server.id } })).toBe(1);
  });

  it("does not hold back rules that differ (another port, or the same port from another source)", async () => {
    const server = await e.addServer("race-distinct");
    const inputs = [
      { port: "80", source: "" },
      { port: "443", source: "" },
      { port: "443", source: "203.0.113.0/24" },
      { port: "8000:8100", source: "" },
    ];
    await Promise.all(
      inputs.map((r, i) => e.api.firewall.create({ serverId: server.id, name: `r${i}`, protocol: "tcp", action: "allow", ...r })),
    );
    expect(await e.db.firewallRule.count({ where: { serverId: server.id } })).toBe(4);
  });
});
