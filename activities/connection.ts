// Test connection: connect over SSH, read the server's facts, pin the host key on first contact.
import { allPackages } from "../catalogue";
import { db } from "../core/db";
import { startPendingProvisioning } from "../core/provisioning";
import { classified } from "./failures";
import { connect } from "./ssh/client";
import { pinHostKey } from "./host-keys";
import { parseProbeOutput, probeCommand, probeMaxOutputBytes, type ProbeFacts, type VariantSource } from "./probe";
import { loadTarget } from "./targets";

export interface ProbeInput {
  serverId: string;
}
export interface ProbeResult extends ProbeFacts {
  fingerprint: string;
  algorithm: string;
}

/** The catalogue's packages with variants (PHP), as the probe lists them from apt. */
function variantSources(): VariantSource[] {
  return allPackages().flatMap((p) => (p.variants ? [{ type: p.type, aptPattern: p.variants.aptPattern }] : []));
}

// One command, one channel (activities/probe.ts): os-release, kernel, hardware, disk, swap,
// virtualization, and what apt offers for the catalogue's packages (how a package definition
// learns which version, and which variants, the OS has).
export async function probeServer({ serverId }: ProbeInput): Promise<ProbeResult> {
  return classified(async () => {
    const target = await loadTarget(serverId);
    const conn = await connect(target, { readyTimeoutMs: 10_000 });
    try {
      const aptPackages = [...new Set(allPackages().flatMap((p) => p.aptPackages))];
      const variants = variantSources();
      const out = await conn.exec(probeCommand(aptPackages, variants), {
        timeoutMs: 15_000,
        maxOutputBytes: probeMaxOutputBytes(variants),
      });
      const result: ProbeResult = {
        fingerprint: conn.hostKey.fingerprint,
        algorithm: conn.hostKey.algorithm,
        ...parseProbeOutput(out.stdout, variants),
      };
      await pinHostKey(serverId, target.host, target.port, conn.hostKey);
      return result;
    } finally {
      conn.close();
    }
  });
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
            osId: result.probe.osId,
            osRelease: result.probe.osRelease,
            osCodename: result.probe.osCodename,
            arch: result.probe.arch,
            cpuCount: result.probe.cpuCount,
            memoryMb: result.probe.memoryMb,
            diskTotalMb: result.probe.diskTotalMb,
            diskFreeMb: result.probe.diskFreeMb,
            swapMb: result.probe.swapMb,
            virtualization: result.probe.virtualization,
            variantOffers: result.probe.variantOffers,
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
  // A server added with a role is provisioned once BrokeForge knows it (and its OS is supported).
  if (result.ok) await startPendingProvisioning(serverId);
}
