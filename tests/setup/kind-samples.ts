// A valid create input for every resource kind of the catalogue, and a way to put a row of
// any kind in any status straight into the database. Tests that go over every kind × action
// × status (tests/integration/api-*.test.ts) build their cases from the catalogue's lists, so
// a new kind is covered as soon as it is registered — and `sampleInput` throws, naming it,
// until it has a sample here.
import type { ResourceKind } from "../../catalogue/kit";
import type { TaskStatus } from "../../domain/status";

/** Sample create inputs by kind type; `n` makes each call's row distinct on one server. */
const SAMPLES: Record<string, (n: number) => Record<string, unknown>> = {
  package: () => ({ type: "firewall" }),
  // One per server (a unique key): tests that need two make two servers.
  provisioning: () => ({ role: "bare" }),
  firewall_rule: (n) => ({ name: `web-${n}`, port: String(20_000 + n), protocol: "tcp", action: "allow", source: "" }),
  scheduled_task: (n) => ({ name: `backup-${n}`, command: "echo backup", user: "root", frequency: "daily" }),
  // root and / exist on any server, so the install's preconditions hold wherever it runs.
  supervisor_program: (n) => ({ name: `worker-${n}`, command: "sleep infinity", user: "root", directory: "/" }),
};

/**
 * Kinds whose install runs whole packages (apt installs creating /etc/fail2ban, /etc/php…):
 * the executing SSH peer's stub apt models package state, not package files, so these run
 * only against real Debian servers (tests/debian/). Tests that run every kind's install
 * through the engine on the peer leave them out, by this list.
 */
export const REAL_SERVER_ONLY: readonly string[] = ["provisioning"];

let counter = 0;

export function sampleInput(kind: ResourceKind): Record<string, unknown> {
  const sample = SAMPLES[kind.type];
  if (!sample) throw new Error(`tests/setup/kind-samples.ts has no sample input for the resource kind ${kind.type}: add one`);
  return sample(++counter);
}

export function hasSample(kind: ResourceKind): boolean {
  return kind.type in SAMPLES;
}

/**
 * Writes a row of `kind` on `server` in `status`, built by the kind's own create hook from
 * its sample input (as `create` would, minus the operation): the state a resource is in
 * when a user clicks an action.
 */
export async function insertResource(
  kind: ResourceKind,
  server: { id: string; sshPort: number; sshUser: string },
  status: TaskStatus,
  extra: { errorLog?: string } = {},
) {
  const { resourceTable } = await import("../../core/resources");
  // A connected Debian 12 server as far as create hooks can tell (provisioning refuses an unknown OS).
  const facts = { os: { id: "debian", release: "12", codename: "bookworm" }, variants: { php: ["8.2"] }, ...server };
  const data = kind.create(kind.input.parse(sampleInput(kind)), { server: facts });
  return resourceTable(kind).create({ data: { ...data, serverId: server.id, status, errorLog: extra.errorLog ?? null } });
}
