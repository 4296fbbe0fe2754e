// Test connection: connect over SSH, read OS facts, pin the host key on first contact.
import { allPackages } from "../catalogue";
import { apt } from "../catalogue/commands";
import { db } from "../core/db";
import { classified } from "./failures";
import { connect } from "./ssh/client";
import { toShell } from "./ssh/shell";
import { pinHostKey } from "./host-keys";
import { loadTarget } from "./targets";

export interface ProbeInput {
  serverId: string;
}
export interface ProbeResult {
  fingerprint: string;
  algorithm: string;
  osName: string | null;
  osVersion: string | null;
  kernel: string | null;
  packageOffers: Record<string, apt.AptOffer>;
}

// One command, one channel: os-release, the kernel release, and what apt offers for the
// catalogue's packages (how a package definition learns which version the OS has),
// separated by marker lines. apt-cache is read-only; a server without it just offers nothing.
function probeCommand(): string {
  const packages = [...new Set(allPackages().flatMap((p) => p.aptPackages))];
  const policy = packages.length ? `${toShell(apt.policy(packages))} 2>/dev/null` : "true";
  return `cat /etc/os-release 2>/dev/null; echo ---brokeforge-uname---; uname -r; echo ---brokeforge-apt---; ${policy} || true`;
}

export async function probeServer({ serverId }: ProbeInput): Promise<ProbeResult> {
  return classified(async () => {
    const target = await loadTarget(serverId);
    const conn = await connect(target, { readyTimeoutMs: 10_000 });
    try {
      const out = await conn.exec(probeCommand(), { timeoutMs: 15_000, maxOutputBytes: 256 * 1024 });
      const [osRelease = "", rest = ""] = out.stdout.split("---brokeforge-uname---");
      const [uname = "", policy = ""] = rest.split("---brokeforge-apt---");
      const fields = parseOsRelease(osRelease);
      const result: ProbeResult = {
        fingerprint: conn.hostKey.fingerprint,
        algorithm: conn.hostKey.algorithm,
        osName: fields.NAME ?? null,
        osVersion: fields.VERSION ?? fields.VERSION_ID ?? null,
        kernel: uname.trim() || null,
        packageOffers: apt.parsePolicy(policy),
      };
      await pinHostKey(serverId, target.host, target.port, conn.hostKey);
      return result;
    } finally {
      conn.close();
    }
  });
}

export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (m) out[m[1]!] = m[2]!.replace(/^["']|["']$/g, "");
  }
  return out;
}

export interface ConnectionOutcome {
  serverId: string;
  operationId: string;
  result: { ok: true; probe: ProbeResult } | { ok: false; error: string };
}

export async function markOperationRunning({ operationId }: { operationId: string }): Promise<void> {
  await db().operation.updateMany({
    where: { id: operationId, state: "queued" },
    data: { state: "running", startedAt: new Date() },
  });
}

export async function recordConnectionOutcome({ serverId, operationId, result }: ConnectionOutcome): Promise<void> {
  const now = new Date();
  await db().$transaction([
    db().server.updateMany({
      where: { id: serverId },
      data: result.ok
        ? {
            connectionStatus: "connected",
            connectionError: null,
            osName: result.probe.osName,
            osVersion: result.probe.osVersion,
            kernel: result.probe.kernel,
            packageOffers: result.probe.packageOffers,
            lastConnectedAt: now,
          }
        : { connectionStatus: "failed", connectionError: result.error },
    }),
    db().operation.updateMany({
      where: { id: operationId },
      data: result.ok
        ? { state: "succeeded", errorLog: null, finishedAt: now }
        : { state: "failed", errorLog: result.error, finishedAt: now },
    }),
  ]);
}
