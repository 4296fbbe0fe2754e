// Test connection: connect over SSH, read OS facts, pin the host key on first contact.
import { db } from "../core/db";
import { classified } from "./failures";
import { connect } from "./ssh/client";
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
}

// One command, one channel: os-release and the kernel release separated by a marker line.
const PROBE = "cat /etc/os-release 2>/dev/null; echo ---brokeforge-uname---; uname -r";

export async function probeServer({ serverId }: ProbeInput): Promise<ProbeResult> {
  return classified(async () => {
    const target = await loadTarget(serverId);
    const conn = await connect(target, { readyTimeoutMs: 10_000 });
    try {
      const out = await conn.exec(PROBE, { timeoutMs: 15_000, maxOutputBytes: 64 * 1024 });
      const [osRelease = "", uname = ""] = out.stdout.split("---brokeforge-uname---");
      const fields = parseOsRelease(osRelease);
      const result: ProbeResult = {
        fingerprint: conn.hostKey.fingerprint,
        algorithm: conn.hostKey.algorithm,
        osName: fields.NAME ?? null,
        osVersion: fields.VERSION ?? fields.VERSION_ID ?? null,
        kernel: uname.trim() || null,
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
