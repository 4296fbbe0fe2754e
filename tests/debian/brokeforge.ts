// Glue between a real Debian test server (harness/) and an isolated BrokeForge
// (tests/setup/engine.ts): add the server like a user would, wait for operations, and run
// BrokeForge's own rendered milestone scripts by hand (to check they are safe to re-run).
import net from "node:net";
import { expect } from "vitest";
import { script } from "../../activities/ssh/shell";
import type { Plan } from "../../catalogue/kit";
import { eventually, type Engine } from "../setup/engine";
import type { DebianServer } from "./harness";

/** How long a BrokeForge operation on the real server may take (apt over the mirror included). */
export const OP_TIMEOUT_MS = 240_000;

type ProvisioningInput = Parameters<Engine["api"]["servers"]["create"]>[0]["provisioning"];

/**
 * The user's path: create the server in BrokeForge (with `provisioning`: a role, whose
 * provisioning the connection test starts), take its generated root public key, put it in the
 * server's authorized_keys, test the connection, and let the host key be pinned.
 */
export async function addToBrokeForge(
  e: Engine,
  server: DebianServer,
  opts: { name?: string; provisioning?: ProvisioningInput } = {},
): Promise<{ id: string }> {
  const { name = server.name, provisioning } = opts;
  const created = await e.api.servers.create({ name, host: server.host, sshPort: server.sshPort, sshUser: "root", provisioning });
  const detail = await e.api.servers.byId({ id: created.id });
  const rootKey = detail.publicKeys.find((k) => k.kind === "root");
  if (!rootKey) throw new Error("BrokeForge generated no root key for the new server");
  await server.authorize(rootKey.publicKey);
  await e.api.servers.testConnection({ id: created.id });
  const done = await eventually(async () => {
    const s = await e.api.servers.byId({ id: created.id });
    return s.connectionStatus === "connected" || s.connectionStatus === "failed" ? s : null;
  }, 60_000);
  if (done.connectionStatus !== "connected") throw new Error(`testConnection failed: ${done.connectionError}`);
  expect(server.hostKeyFingerprints).toContain(done.hostKeyFingerprint);
  expect(done.osName).toMatch(/Debian/);
  expect(done.osVersion).toMatch(server.suite === "trixie" ? /^13/ : /^12/);
  return { id: created.id };
}

type Status = { status: string; errorLog: string | null } | null;

/** Waits until the resource reaches `status` (or `deleted`), failing early on an unexpected `failed`. */
export async function until(get: () => Promise<Status>, status: string, timeoutMs = OP_TIMEOUT_MS): Promise<NonNullable<Status> | null> {
  let last: Status = null;
  try {
    return await eventually(async () => {
      last = await get();
      const now = last?.status ?? "deleted";
      if (now === status) return last ?? ({ status: "deleted", errorLog: null } as const);
      if (now === "failed" && status !== "failed") throw new Error(`went to failed, not ${status}: ${last?.errorLog}`);
      return null;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`waiting for ${status}: ${(err as Error).message} (last: ${JSON.stringify(last)})`, { cause: err });
  }
}

/** The latest operation on a resource, with its milestones. */
export function lastOperation(e: Engine, resourceId: string) {
  return e.db.operation.findFirstOrThrow({
    where: { resourceId },
    orderBy: { createdAt: "desc" },
    include: { milestones: { orderBy: { step: "asc" } } },
  });
}

/** The latest operation on a resource once it reached `state` (its row is updated just before it). */
export function operationEnded(e: Engine, resourceId: string, state: "succeeded" | "failed") {
  return eventually(async () => {
    const op = await lastOperation(e, resourceId);
    return op.state === state ? op : null;
  }, 15_000);
}

/** Runs each milestone of a plan as BrokeForge renders it (one script per milestone). */
export async function runPlanByHand(server: DebianServer, plan: Plan): Promise<string[]> {
  const outputs: string[] = [];
  for (const m of plan) {
    const rendered = script(m.steps);
    const r = await server.exec(rendered.command, { timeoutMs: 240_000 });
    const parsed = rendered.parse(r.stdout, r.stderr);
    if (r.exitCode !== 0 || parsed.failed || parsed.incomplete) {
      const bad = parsed.failed ?? parsed.incomplete;
      throw new Error(
        `milestone ${m.name} failed at "${bad?.label}" (exit ${bad?.exitCode ?? r.exitCode}): ${bad?.stderr ?? r.stderr}${bad?.stdout ?? ""}`,
      );
    }
    outputs.push(r.stdout);
  }
  return outputs;
}

/**
 * One HTTP GET to 127.0.0.1:port with a deadline. Through slirp4netns a forwarded port
 * ALWAYS accepts the TCP connection on the host side (slirp then connects into the
 * container), so only an answer from the service inside proves the packet got through.
 */
export function httpGet(port: number, timeoutMs = 3_000): Promise<{ ok: true; body: string } | { ok: false; why: string }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    let body = "";
    const done = (r: { ok: true; body: string } | { ok: false; why: string }) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, why: `no answer within ${timeoutMs} ms` }), timeoutMs);
    sock.on("connect", () => sock.write("GET / HTTP/1.0\r\nHost: test\r\n\r\n"));
    sock.on("data", (d) => (body += d));
    sock.on("error", (err) => done({ ok: false, why: err.message }));
    sock.on("close", () => done(body ? { ok: true, body } : { ok: false, why: "closed without an answer" }));
  });
}

/**
 * A tiny HTTP service inside the server (perl-base only: nothing extra installed), as a
 * systemd unit: transient (gone after a reboot), or `persistent` (enabled: back after one).
 */
export async function startHttpService(server: DebianServer, port: number, opts: { persistent?: boolean } = {}): Promise<void> {
  const perl = [
    "use IO::Socket::INET;",
    'my $s = IO::Socket::INET->new(LocalPort => $ARGV[0], Listen => 16, ReuseAddr => 1) or die "listen: $!";',
    'while (my $c = $s->accept) { print $c "HTTP/1.0 200 OK\\r\\n\\r\\nhello from $ARGV[0]\\n"; close $c; }',
  ].join("\n");
  const unit = `[Unit]\nDescription=test HTTP on ${port}\n\n[Service]\nExecStart=/usr/bin/perl /root/http-${port}.pl ${port}\n\n[Install]\nWantedBy=multi-user.target`;
  const start = opts.persistent
    ? `cat > /etc/systemd/system/test-http-${port}.service <<'EOF'\n${unit}\nEOF\nsystemctl enable --now test-http-${port}.service`
    : `systemd-run --unit=test-http-${port} /usr/bin/perl /root/http-${port}.pl ${port}`;
  await server.sh(`cat > /root/http-${port}.pl <<'EOF'\n${perl}\nEOF\n${start}`);
  // Ready when something listens (checked inside the server, not through the firewall).
  await eventually(async () => (await server.exec(`ss -Hltn 'sport = :${port}' | grep -q LISTEN`)).exitCode === 0 || null, 10_000);
}
