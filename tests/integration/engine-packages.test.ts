// Server packages and inventory, quoting end to end, observability in Temporal, change-event
// pruning, and ownership on every resource procedure.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startEngine, type Engine } from "../setup/engine";

let e: Engine;
beforeAll(async () => {
  e = await startEngine();
});
afterAll(async () => e?.stop());

const VERSIONS: Record<string, string> = { ufw: "0.36.2-1", cron: "3.0pl1-162", supervisor: "4.2.5-1" };

describe("packages", () => {
  it("installs ufw with SSH allowed before the firewall is enabled, and records it in the inventory with its version", async () => {
    const server = await e.addServer("pkg", { packages: [] });
    e.peer.script((cmd) => {
      const m = /^dpkg-query -W '-f=\$\{Version\}' (\S+)$/.exec(cmd);
      return m ? { stdout: VERSIONS[m[1]!] } : undefined;
    });
    const { id } = await e.api.packages.create({ serverId: server.id, type: "firewall" });
    expect((await e.api.packages.list({ serverId: server.id }))[0]).toMatchObject({ id, status: "pending", name: "ufw" });
    await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id } }))?.status === "active" || null);
    const pkg = await e.db.serverPackage.findUniqueOrThrow({ where: { id } });
    expect(pkg).toMatchObject({ type: "firewall", name: "ufw", version: "0.36.2-1" });
    expect(pkg.configuration).toMatchObject({ sshPort: e.peer.port, defaultIncoming: "deny" });

    const cmds = e.peer.commands(server.id);
    const allowSsh = cmds.findIndex((c) => c.includes(`port ${e.peer.port}`) && c.includes("allow"));
    expect(allowSsh).toBeGreaterThanOrEqual(0);
    expect(allowSsh).toBeLessThan(cmds.indexOf("ufw --force enable"));

    await expect(e.api.packages.create({ serverId: server.id, type: "firewall" })).rejects.toMatchObject({ code: "CONFLICT" });

    await e.api.packages.remove({ id });
    await eventually(async () => (await e.db.serverPackage.findUnique({ where: { id } })) === null || null);
    expect(e.peer.commands(server.id).some((c) => c.includes("purge") && c.includes("ufw"))).toBe(true);
  });

  it("a rule needs its package: refused at create without one; failed at once, no command run, when the package's install failed", async () => {
    const server = await e.addServer("needs-ufw", { packages: [] });
    await expect(
      e.api.firewall.create({ serverId: server.id, name: "web", port: "443", protocol: "tcp", action: "allow", source: "" }),
    ).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: "Install Firewall on this server first" });

    // Queued behind the package's install, which then fails for real (three tries).
    e.peer.script((cmd) => (cmd.includes("install -y ufw") ? { exitCode: 100, stderr: "E: Unable to locate package ufw\n" } : undefined));
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
    expect(e.peer.commands(server.id).some((c) => c.includes("port 443"))).toBe(false);
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

  it("delivers hostile values byte for byte as single argv elements", async () => {
    const server = await e.addServer("hostile");
    const name = `it's "quoted"; $(id) \`id\` * -rf ünïcødé`;
    const command = `echo '$(touch /tmp/pwned)'; rm -rf / # ${"x".repeat(200)}`;
    const seen: string[][] = [];
    e.peer.script((_cmd, ctx) => {
      if (ctx.step) seen.push(ctx.step.argv);
      return undefined;
    });
    const task = await e.api.scheduler.create({ serverId: server.id, name, command, user: "root", frequency: "hourly" });
    await eventually(async () => (await e.db.scheduledTask.findUnique({ where: { id: task.id } }))?.status === "active" || null);
    // The command reaches the server only inside an argument (the task script's content), intact.
    expect(seen.some((argv) => argv.some((a) => a.includes(command)))).toBe(true);
    // The display name never reaches the server at all.
    expect(seen.flat().some((a) => a.includes("ünïcødé"))).toBe(false);
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
    expect(found.length).toBeGreaterThanOrEqual(2);
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
    const ports = e.peer
      .commands(server.id)
      .map((c) => /port (\d+)/.exec(c)?.[1])
      .filter(Boolean);
    expect(ports).toEqual(rules.map((_, i) => String(7000 + i)));
    const runs: string[] = [];
    for await (const wf of client.workflow.list({ query: `WorkflowId = "server-${server.id}"` })) runs.push(wf.runId);
    expect(runs.length).toBeGreaterThanOrEqual(3); // 7 operations, 3 per run
  });
});

describe("deleting a server", () => {
  it("ends its queue and stops the command running on it", async () => {
    const server = await e.addServer("doomed");
    e.peer.script((cmd) => (cmd.includes("port 6000") ? { hang: true } : undefined));
    await e.api.firewall.create({ serverId: server.id, name: "hang", port: "6000", protocol: "tcp", action: "allow", source: "" });
    const exec = await e.peer.waitForExec((x) => x.serverKey === server.id && x.command.includes("6000"), 15_000);
    await e.api.servers.remove({ id: server.id });
    const { temporalClient } = await import("../../temporal/client");
    const client = await temporalClient();
    const queue = await eventually(async () => {
      const d = await client.workflow.getHandle(`server-${server.id}`).describe();
      return d.status.name !== "RUNNING" ? d : null;
    });
    expect(queue.status.name).toBe("TERMINATED");
    await eventually(async () => exec.endedAt !== null || null, 20_000);
    expect(exec.outcome).not.toBe("exit");
    expect(await e.db.firewallRule.count({ where: { serverId: server.id } })).toBe(0);
  });
});
