// Server packages and inventory, quoting end to end, observability in Temporal, change-event
// pruning, and ownership on every resource procedure. The SSH test peer's fake servers really
// run every command (tests/fixtures/ssh-peer/); what a server ended with is read from it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeServer } from "../fixtures/ssh-peer";
import { stubFault } from "../fixtures/stub-tools";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
beforeAll(async () => {
  e = await startEngine();
});
afterAll(async () => e?.stop());

/** The server's ufw calls for `port`. */
const ufwCallsFor = (server: FakeServer, port: string | number) =>
  server.calls("ufw").filter((c) => ` ${c.join(" ")} `.includes(` port ${port} `));

describe("packages", () => {
  it("installs ufw with SSH allowed before the firewall is enabled, and records it in the inventory with its version", async () => {
    const server = await e.addServer("pkg", { packages: [] });
    const fake = await e.peer.server(server.id);
    fake.write("/var/lib/stub-state/versions/ufw", "0.36.2-1");
    const { id } = await e.api.packages.create({ serverId: server.id, type: "firewall" });
    expect((await e.api.packages.list({ serverId: server.id }))[0]).toMatchObject({ id, status: "pending", name: "ufw" });
    await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id } }))?.status === "active" || null);
    const pkg = await e.db.serverPackage.findUniqueOrThrow({ where: { id } });
    expect(pkg).toMatchObject({ type: "firewall", name: "ufw", version: "0.36.2-1" });
    expect(pkg.configuration).toMatchObject({ sshPort: e.peer.port, defaultIncoming: "deny" });

    // On the server: ufw installed, the SSH port allowed BEFORE ufw was enabled, ufw active.
    const ufw = fake.calls("ufw").map((c) => c.slice(1).join(" "));
    const allowSsh = ufw.indexOf(`allow proto tcp from any to any port ${e.peer.port} comment brokeforge-ssh`);
    expect(allowSsh).toBeGreaterThanOrEqual(0);
    expect(allowSsh).toBeLessThan(ufw.indexOf("--force enable"));
    expect(fake.exists("/var/lib/stub-state/dpkg/ufw")).toBe(true);
    expect(fake.stubState("ufw-state")).toBe("active\n");
    expect(fake.stubState("ufw-rules")).toBe(`allow proto tcp from any to any port ${e.peer.port} comment brokeforge-ssh\n`);

    await expect(e.api.packages.create({ serverId: server.id, type: "firewall" })).rejects.toMatchObject({ code: "CONFLICT" });

    await e.api.packages.remove({ id });
    await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id } })) === null || null);
    expect(fake.stubState("ufw-state")).toBe("inactive\n"); // disabled first...
    expect(fake.exists("/var/lib/stub-state/dpkg/ufw")).toBe(false); // ...then purged
  });

  it("a rule needs its package: refused at create without one; failed at once, no command run, when the package's install failed", async () => {
    const server = await e.addServer("needs-ufw", { packages: [] });
    await expect(
      e.api.firewall.create({ serverId: server.id, name: "web", port: "443", protocol: "tcp", action: "allow", source: "" }),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "Install Firewall on this server first" });

    // Queued behind the package's install, which then fails on the server (three tries).
    const fake = await e.peer.server(server.id);
    fake.fault(
      "apt-get",
      "no-ufw",
      stubFault.fail({
        tool: "apt-get",
        name: "no-ufw",
        match: " install -y ufw ",
        exitCode: 100,
        stderr: "E: Unable to locate package ufw\n",
      }),
    );
    const pkg = await e.api.packages.create({ serverId: server.id, type: "firewall" });
    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "web",
      port: "443",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id: pkg.id } }))?.status === "failed" || null);
    const failed = await eventually(async () => {
      const r = await e.db.firewallRule.findUnique({ where: { id: rule.id } });
      return r?.status === "failed" ? r : null;
    });
    expect(failed.errorLog).toBe("Install Firewall on this server first");
    expect(await e.db.operationMilestone.count({ where: { operationId: rule.operationId } })).toBe(0);
    expect(fake.calls("apt-get").filter((c) => c.includes("ufw"))).toHaveLength(3);
    expect(ufwCallsFor(fake, 443)).toEqual([]);
  });

  it("refuses a second rule for the same port, protocol and source (ufw would keep only one), whatever its action", async () => {
    const server = await e.addServer("one-per-tuple");
    const first = await e.api.firewall.create({
      serverId: server.id,
      name: "web",
      port: "443",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await expect(
      e.api.firewall.create({ serverId: server.id, name: "block", port: "443", protocol: "tcp", action: "deny", source: "" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/^A rule for 443\/tcp from anywhere exists already/) });
    // Another tuple is another rule.
    await e.api.firewall.create({ serverId: server.id, name: "web udp", port: "443", protocol: "udp", action: "allow", source: "" });
    await e.api.firewall.create({
      serverId: server.id,
      name: "office",
      port: "443",
      protocol: "tcp",
      action: "deny",
      source: "203.0.113.0/24",
    });
    expect((await e.api.firewall.list({ serverId: server.id })).map((r) => r.name)).toEqual(["web", "web udp", "office"]);
    expect(first.status).toBe("pending");
  });

  it("delivers hostile values byte for byte: the task script on the server holds the command exactly, and nothing ran it", async () => {
    const server = await e.addServer("hostile");
    const fake = await e.peer.server(server.id);
    const name = `it's "quoted"; $(id) \`id\` * -rf ünïcødé`;
    const command = `echo '$(touch /tmp/pwned)'; rm -rf / # ${"x".repeat(200)} $(touch /tmp/pwned2) \`touch /tmp/pwned3\``;
    const task = await e.api.scheduler.create({ serverId: server.id, name, command, user: "root", frequency: "hourly" });
    await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: task.id } }))?.status === "active" || null);
    // The command reaches the server only as the content of the task's script, intact, on a line of its own...
    const script = fake.read(`/opt/brokeforge/scheduler/tasks/${task.id}.sh`);
    expect(script?.split("\n")).toContain(command);
    expect(fake.read("/var/spool/cron/crontabs/root")).toContain(`/opt/brokeforge/scheduler/tasks/${task.id}.sh`);
    // ...and nothing in it was executed on the way.
    expect(fake.list("/tmp").filter((f) => f.startsWith("pwned"))).toEqual([]);
    // The display name never reaches the server at all (no command sent to it contains it).
    expect(e.peer.commands(server.id).length).toBeGreaterThan(0);
    expect(e.peer.commands(server.id).some((c) => c.includes("ünïcødé"))).toBe(false);
  });
});

describe("observability", () => {
  it("keeps workflow and run ids on operations, and the Temporal UI lists a server's work by search attribute", async () => {
    const server = await e.addServer("observed");
    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "http",
      port: "80",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } }))?.status === "active" || null);
    const [op] = await e.api.operations.list({ serverId: server.id });
    expect(op).toMatchObject({ kind: "firewall_rule.install", state: "succeeded", workflowId: `server-${server.id}/op-${op!.id}` });
    expect(op!.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(op!.temporalUrl).toContain(`/workflows/${encodeURIComponent(op!.workflowId!)}/${op!.runId}`);
    const detail = await e.api.operations.byId({ id: op!.id });
    expect(detail.milestones.map((m) => [m.step, m.total, m.state])).toEqual([[1, 1, "succeeded"]]);

    const { temporalClient } = await import("../../temporal/client");
    const client = await temporalClient();
    const found = await eventually(async () => {
      const ids: string[] = [];
      for await (const wf of client.workflow.list({ query: `BrokeForgeServerId = "${server.id}"` })) ids.push(wf.workflowId);
      return ids.includes(op!.workflowId!) && ids.includes(`server-${server.id}`) ? ids : null;
    });
    expect(found).toEqual(expect.arrayContaining([op!.workflowId!, `server-${server.id}`]));
    const described = await client.workflow.getHandle(op!.workflowId!).describe();
    const { operationKindKey } = await import("../../temporal/search-attributes");
    expect(described.typedSearchAttributes.get(operationKindKey)).toBe("firewall_rule.install");
  });
});

describe("change events", () => {
  it("prunes events older than the retention, keeps recent ones", async () => {
    const { pruneChangeEvents } = await import("../../activities/maintenance");
    const old = await e.db.changeEvent.create({
      data: { userId: e.userId, entity: "server", entityId: "x", action: "update", createdAt: new Date(Date.now() - 8 * 24 * 3600_000) },
    });
    const recent = await e.db.changeEvent.create({ data: { userId: e.userId, entity: "server", entityId: "y", action: "update" } });
    expect(await pruneChangeEvents()).toBeGreaterThanOrEqual(1);
    expect(await e.db.changeEvent.findUnique({ where: { id: old.id } })).toBeNull();
    expect(await e.db.changeEvent.findUnique({ where: { id: recent.id } })).not.toBeNull();
  });
});

describe("ownership", () => {
  it("another user gets NOT_FOUND on every resource procedure of my server, and nothing changes", async () => {
    const server = await e.addServer("mine");
    const rule = await e.api.firewall.create({
      serverId: server.id,
      name: "ssh-alt",
      port: "2200",
      protocol: "tcp",
      action: "allow",
      source: "",
    });
    await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } }))?.status === "active" || null);
    const [op] = await e.api.operations.list({ serverId: server.id });
    const { createCaller } = await import("../../trpc/router");
    const other = await e.db.user.create({ data: { email: "intruder@example.com", passwordHash: "x" } });
    const them = createCaller({ principal: { user: other, via: { kind: "session", sessionId: "x" } }, ip: "127.0.0.1" });
    const sid = server.id;
    const calls: Record<string, () => Promise<unknown>> = {
      "firewall.list": () => them.firewall.list({ serverId: sid }),
      "firewall.create": () => them.firewall.create({ serverId: sid, name: "x", port: "81", protocol: "tcp", action: "allow", source: "" }),
      "firewall.remove": () => them.firewall.remove({ id: rule.id }),
      "firewall.retry": () => them.firewall.retry({ id: rule.id }),
      "scheduler.list": () => them.scheduler.list({ serverId: sid }),
      "scheduler.create": () => them.scheduler.create({ serverId: sid, name: "x", command: "true", user: "root", frequency: "daily" }),
      "supervisor.list": () => them.supervisor.list({ serverId: sid }),
      "supervisor.create": () =>
        them.supervisor.create({
          serverId: sid,
          name: "x",
          command: "sleep 1",
          directory: "/tmp",
          user: "root",
          numprocs: 1,
          autostart: true,
          autorestart: true,
        }),
      "packages.list": () => them.packages.list({ serverId: sid }),
      "packages.install": () => them.packages.create({ serverId: sid, type: "supervisor" }),
      "operations.list": () => them.operations.list({ serverId: sid }),
      "operations.byId": () => them.operations.byId({ id: op!.id }),
      "operations.cancel": () => them.operations.cancel({ id: op!.id }),
    };
    for (const [name, call] of Object.entries(calls)) {
      const code = await call().then(
        () => "OK",
        (err: { code?: string }) => err.code,
      );
      expect([name, code]).toEqual([name, "NOT_FOUND"]);
    }
    expect(await e.db.firewallRule.count({ where: { serverId: sid } })).toBe(1);
    expect(await e.db.operation.count({ where: { serverId: sid } })).toBe(1);
  });
});

describe("history bound", () => {
  it("continues as new after N operations, carrying the queue: every operation still runs once, in order", async () => {
    const server = await e.addServer("long-lived");
    const { temporalClient, taskQueue } = await import("../../temporal/client");
    const client = await temporalClient();
    // Start the queue with a small run length before anything is enqueued (enqueue uses signal-with-start).
    await client.workflow.start("serverQueueWorkflow", {
      workflowId: `server-${server.id}`,
      taskQueue: taskQueue(),
      args: [{ serverId: server.id, operationsPerRun: 3 }],
    });
    const rules = [];
    for (let i = 0; i < 7; i++) {
      rules.push(
        await e.api.firewall.create({
          serverId: server.id,
          name: `r${i}`,
          port: String(7000 + i),
          protocol: "tcp",
          action: "allow",
          source: "",
        }),
      );
    }
    for (const r of rules)
      await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: r.id } }))?.status === "active" || null);
    // In the order they were created, each once, as the server's ufw saw them.
    const fake = await e.peer.server(server.id);
    expect(fake.calls("ufw").map((c) => c[c.indexOf("port") + 1])).toEqual(rules.map((_, i) => String(7000 + i)));
    // 7 operations, 3 per run: at least 3 runs, once Temporal's visibility store has caught up.
    await eventually(async () => {
      const runs: string[] = [];
      for await (const wf of client.workflow.list({ query: `WorkflowId = "server-${server.id}"` })) runs.push(wf.runId);
      return runs.length >= 3 || null;
    });
  });
});

describe("deleting a server", () => {
  it("ends its queue and stops the command running on it", async () => {
    const server = await e.addServer("doomed");
    const fake = await e.peer.server(server.id);
    const hang = fake.hang("ufw", " port 6000 ");
    await e.api.firewall.create({ serverId: server.id, name: "hang", port: "6000", protocol: "tcp", action: "allow", source: "" });
    await hang.held(15_000);
    await e.api.servers.remove({ id: server.id });
    const { temporalClient } = await import("../../temporal/client");
    const client = await temporalClient();
    const queue = await eventually(async () => {
      const d = await client.workflow.getHandle(`server-${server.id}`).describe();
      return d.status.name !== "RUNNING" ? d : null;
    });
    expect(queue.status.name).toBe("TERMINATED");
    // The command does not run on after the server is gone from BrokeForge: it was stopped there.
    await eventually(async () => hang.stopped() !== null || null, 30_000);
    expect(await e.db.firewallRule.count({ where: { serverId: server.id } })).toBe(0);
  });
});
