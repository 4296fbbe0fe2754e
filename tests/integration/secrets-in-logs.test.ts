// Private keys never reach a log: every worker log line (at DEBUG) and everything the process
// prints while operations succeed and fail is searched for key material.
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { afterAll, beforeAll, expect, it, vi, type MockInstance } from "vitest";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { stubFault } from "../fixtures/stub-tools";

const captured: string[] = [];
let e: Engine;
// Spies that record every write and still print it (nothing is replaced).
let writes: MockInstance[] = [];

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger("DEBUG", (entry) => captured.push(`${entry.message} ${JSON.stringify(entry.meta ?? {})}`)) });
  writes = [vi.spyOn(process.stdout, "write"), vi.spyOn(process.stderr, "write")];
  e = await startEngine();
});
afterAll(async () => {
  for (const spy of writes) spy.mockRestore();
  await e?.stop();
});

it("never logs private key material, on success or failure", async () => {
  const ok = await e.addServer("ok");
  const rule = await e.api.firewall.create({ serverId: ok.id, name: "web", port: "80", protocol: "tcp", action: "allow", source: "" });
  const fault = { tool: "ufw", name: "fail-81" };
  (await e.peer.server(ok.id)).fault(
    fault.tool,
    fault.name,
    stubFault.fail({ ...fault, match: " port 81 ", exitCode: 1, stderr: "boom\n" }),
  );
  const bad = await e.api.firewall.create({ serverId: ok.id, name: "bad", port: "81", protocol: "tcp", action: "allow", source: "" });
  // A server whose key is not authorized: authentication fails, with the error logged.
  const locked = await e.api.servers.create({ name: "locked", host: "127.0.0.1", sshPort: e.peer.port, sshUser: "root" });
  await e.api.servers.testConnection({ id: locked.id });
  await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: rule.id } }))?.status === "active" || null);
  await eventually(async () => (await e.db.firewallRule.findUnique({ where: { id: bad.id } }))?.status === "failed" || null);
  await eventually(async () => (await e.db.server.findUnique({ where: { id: locked.id } }))?.connectionStatus === "failed" || null);

  const { decryptSecret } = await import("../../core/crypto");
  const credentials = await e.db.serverCredential.findMany();
  const printed = writes.flatMap((spy) => spy.mock.calls.map((args: unknown[]) => String(args[0])));
  const logs = [...captured, ...printed].join("\n");
  expect(logs.length).toBeGreaterThan(1000); // the worker did log (so the search means something)
  expect(logs).not.toContain("PRIVATE KEY");
  for (const c of credentials) {
    const body = decryptSecret(c.privateKeyEncrypted, `server:${c.serverId}:credential:${c.kind}`).split("\n").slice(1, -2).join("");
    for (let i = 0; i + 32 <= body.length; i += 32) expect(logs).not.toContain(body.slice(i, i + 32));
    expect(logs).not.toContain(c.privateKeyEncrypted);
  }
});
