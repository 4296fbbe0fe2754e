// A Debian 12 server rebooted for real (`systemctl reboot`) while a provisioning milestone's apt
// runs on it. The detached run dies with the server; BrokeForge's SSH retries until the server is
// back, the run is found ended "without an exit status (… the server restarted)", which counts
// as one real failure of the milestone, and the next attempt runs it afresh under a new run name.
// The provisioning ends active by itself, with nothing half-installed (`dpkg --audit`). Role bare
// (base, site user, firewall) keeps it short; the milestone interrupted is base's security
// updates (apt installs unattended-upgrades).
import { afterAll, beforeAll, expect, it } from "vitest";
import { eventually, startEngine, type Engine } from "../setup/engine";
import { addToBrokeForge, lastOperation, until } from "./brokeforge";
import { bootDebian, type DebianServer, type DebianServerExtras } from "./harness";

let e: Engine;
let server: DebianServer & DebianServerExtras;

beforeAll(async () => {
  [e, server] = await Promise.all([startEngine(), bootDebian({ label: "restart" })]);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await e?.stop();
});

it("a server rebooted in the middle of a provisioning milestone: the provisioning resumes and ends active", async () => {
  const { id: serverId } = await addToBrokeForge(e, server, { provisioning: { role: "bare" } });
  const row = await eventually(() => e.db.provisioning.findUnique({ where: { serverId } }), 30_000);
  // Wait for a long apt milestone to be running on the server.
  await eventually(async () => {
    const op = await lastOperation(e, row.id).catch(() => null);
    const m = op?.milestones.find((x) => x.name === "base_security_updates");
    return m?.state === "running" ? m : null;
  }, 300_000);
  await new Promise((r) => setTimeout(r, 3000)); // into apt's work, not its first instant
  const bootBefore = (await server.sh("cat /proc/sys/kernel/random/boot_id")).trim();
  const ms = await server.reboot();
  console.log(`[restart] rebooted in ${ms} ms`);
  expect((await server.sh("cat /proc/sys/kernel/random/boot_id")).trim()).not.toBe(bootBefore);
  const done = await until(() => e.db.provisioning.findUnique({ where: { serverId } }), "active", 900_000);
  expect(done?.status).toBe("active");
  const op = await lastOperation(e, row.id);
  console.log(JSON.stringify(op.milestones.map((m) => [m.name, m.state, m.attempts, m.failures])));
  const m = op.milestones.find((x) => x.name === "base_security_updates")!;
  expect(m.state).toBe("succeeded");
  expect(m.attempts).toBeGreaterThan(1);
  expect((await server.sh("dpkg --audit; echo rc=$?")).trim()).toBe("rc=0");
  expect(await server.sh("dpkg-query -W -f '${Status}' unattended-upgrades")).toBe("install ok installed");
}, 1_200_000);
