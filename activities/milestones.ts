// Runs one milestone: its commands as one remote script over the server's pooled SSH
// connection, heartbeating while it runs, recording progress for the UI ("step 3 of 5").
import { createHmac } from "node:crypto";
import { ApplicationFailure, Context } from "@temporalio/activity";
import { sharedEnv } from "../core/env";
import { db } from "../core/db";
import { classified } from "./failures";
import { resourceKind } from "../catalogue";
import type { BroughtResources, Milestone, ResourceKind } from "../catalogue/kit";
import { resourceTable } from "../core/resources";
import { acquire, discard, release } from "./ssh/pool";
import { script, type ParsedScriptOutput } from "./ssh/shell";
import { cleanupPlanOf, loadOperation, planOf, redactionsOf } from "./plans";
import { SshError } from "./ssh/errors";
import type { SshConnection } from "./ssh/client";
import { runName, startOrAttach, stopRun, STOP_GRACE_SECONDS, type RunPlace } from "./ssh/detached";
import { OutputWriter } from "./output";

/** A command that really failed is tried at most this many times in all (seed: $maxExceptions). */
export const MAX_COMMAND_FAILURES = 3;
const OUTPUT_TAIL_BYTES = 8 * 1024;
const HEARTBEAT_MS = 2_000;
/** Stopping a detached run: TERM, KILL after the grace, then confirmation, with room for a slow link. */
const STOP_TIMEOUT_MS = (STOP_GRACE_SECONDS * 2 + 15) * 1000;

export interface RunMilestoneInput {
  operationId: string;
  /** The queue's server: an operation of another server is refused. */
  serverId: string;
  step: number; // 1-based
  /** The milestone's name as begun: the plan rebuilt here must still agree. */
  name: string;
  /** Per-command ceiling; the operation as a whole has its own timeout. */
  timeoutMs: number;
}

/** The milestone to run, from the plan rebuilt out of the operation's rows, and the secrets to redact. */
async function milestoneOf(
  input: RunMilestoneInput,
): Promise<{ milestone: Milestone; total: number; secrets: string[]; resourceOf: ResourceOf }> {
  const loaded = await loadOperation(input.operationId, input.serverId);
  if (!loaded?.resource) throw ApplicationFailure.nonRetryable("The operation or its resource no longer exists", "InvalidInput");
  const plan = planOf({ ...loaded, resource: loaded.resource });
  const milestone = plan[input.step - 1];
  if (milestone?.name !== input.name) {
    throw ApplicationFailure.nonRetryable(
      `The plan changed while the operation ran (step ${input.step} is no longer "${input.name}")`,
      "InvalidInput",
    );
  }
  return { milestone, total: plan.length, secrets: redactionsOf(loaded), resourceOf: { kind: loaded.kind, id: loaded.resourceId } };
}

export async function runMilestone(input: RunMilestoneInput): Promise<{ exitCode: number }> {
  return classified(async () => {
    const { operationId, serverId, step } = input;
    const { milestone, total, secrets, resourceOf } = await milestoneOf(input);
    const key = { operationId_step: { operationId, step } };
    const started = await db().operationMilestone.upsert({
      where: key,
      create: { operationId, step, total, name: milestone.name, label: milestone.label, state: "running", attempts: 1 },
      update: { state: "running", attempts: { increment: 1 }, finishedAt: null },
    });
    await db().operation.updateMany({ where: { id: operationId }, data: { milestoneStep: step, milestoneTotal: total } });

    const ctx = Context.current();
    // The script runs detached on the server (activities/ssh/detached.ts), so a dead worker or
    // a dropped connection no longer kills apt/dpkg half-way. Its name is shared by every
    // attempt until a real failure is recorded: a transport retry attaches to the run (or reads
    // the result of one that ended meanwhile); a retry after a real failure runs afresh.
    const run = { name: runName({ operationId, step, run: started.failures + 1 }) };
    // The step markers' nonce belongs to the run, not the attempt: an attempt that attaches to
    // a run started by an earlier one reads markers that run printed. (A fresh random nonce per
    // attempt found none after a transport retry, so named outputs — a deploy's commit sha —
    // came out null.) Keyed, so a script's own output cannot forge a marker.
    const rendered = script(milestone.steps, { nonce: markerNonce(run.name) });
    // Lines stored as they arrive (the live log), keyed by this run so a replay adds nothing.
    const output = await OutputWriter.open({
      operationId,
      serverId,
      step,
      run: started.failures + 1,
      labels: rendered.labels,
      quiet: milestone.steps.flatMap((s, i) => (s.quiet ? [i] : [])),
      warn: (message, error) => ctx.log.warn(message, { error: String(error) }),
    });
    const heartbeat = setInterval(() => ctx.heartbeat({ step }), HEARTBEAT_MS);
    let result;
    let conn: Awaited<ReturnType<typeof acquire>> | undefined;
    try {
      conn = await acquire(serverId);
      result = await conn.exec(startOrAttach(run, rendered.body), {
        label: milestone.label,
        timeoutMs: input.timeoutMs,
        maxOutputBytes: 256 * 1024,
        signal: ctx.cancellationSignal,
        redact: secrets,
        onOutput: output.onOutput,
      });
      await output.finish(true);
    } catch (err) {
      await output.finish(false);
      // Cancelled or timed out: the run does not end with our channel, so stop it before the
      // server's next operation can start.
      const stopping = ctx.cancellationSignal.aborted || (err instanceof SshError && err.kind === "command_timeout");
      if (stopping && conn) await stopDetached(serverId, conn, run, milestone.label);
      if (err instanceof SshError && err.kind !== "command_timeout") discard(serverId); // reconnect next time
      throw err;
    } finally {
      clearInterval(heartbeat);
      if (conn) release(serverId, conn);
    }

    const parsed = rendered.parse(result.stdout, result.stderr);
    const failedStep = parsed.failed ?? parsed.incomplete;
    const exitCode = result.exitCode ?? -1;
    const outputTail = tail(`${result.stdout}${result.stderr ? `\n${result.stderr}` : ""}`);
    if (exitCode === 0 && !failedStep) {
      await db().$transaction(async (tx) => {
        await tx.operationMilestone.update({
          where: key,
          data: { state: "succeeded", exitCode: 0, outputTail, finishedAt: new Date() },
        });
        if (milestone.records) await recordInventory(tx, serverId, milestone, parsed);
        if (milestone.removes) {
          const { type, variant = "" } = milestone.removes;
          await tx.serverPackage.deleteMany({ where: { serverId, type, variant } });
        }
        if (milestone.brings) await bringResources(tx, serverId, milestone.brings);
        if (milestone.sets) await setColumns(tx, resourceOf, milestone, parsed);
      });
      return { exitCode: 0 };
    }

    const failures = started.failures + 1;
    const which = failedStep?.label ? `"${failedStep.label}"` : "a command";
    const detail = (failedStep ? `${failedStep.stderr}${failedStep.stdout}` : result.stderr).trim().slice(-2000);
    const message = `${milestone.label}: ${which} exited with ${failedStep?.exitCode ?? exitCode}${detail ? `: ${detail}` : ""}`;
    await db().operationMilestone.update({
      where: key,
      data: { state: "failed", failures, exitCode, outputTail, finishedAt: new Date() },
    });
    // Counted in the database, so transport faults (retried by Temporal) don't use up these tries.
    const attempts = milestone.attempts ?? MAX_COMMAND_FAILURES;
    if (failures >= attempts) {
      if (attempts === 1) throw ApplicationFailure.nonRetryable(message, "CommandFailed");
      throw ApplicationFailure.nonRetryable(`${message} (failed ${failures} times)`, "CommandFailed");
    }
    throw ApplicationFailure.retryable(message, "CommandFailed");
  });
}

/** Stops a detached run and waits until nothing of it is left; never throws (the cancel or timeout is what the caller reports). */
async function stopDetached(serverId: string, conn: SshConnection, run: RunPlace, label: string): Promise<void> {
  const command = stopRun(run);
  const opts = { label: `Stopping "${label}"`, timeoutMs: STOP_TIMEOUT_MS };
  try {
    let stopped;
    try {
      stopped = await conn.exec(command, opts);
    } catch (err) {
      if (!(err instanceof SshError) || err.kind === "command_timeout") throw err;
      // The connection went down with the cancel: once more on a fresh one.
      discard(serverId);
      const fresh = await acquire(serverId);
      try {
        stopped = await fresh.exec(command, opts);
      } finally {
        release(serverId, fresh);
      }
    }
    if (stopped.exitCode !== 0) throw new Error(`exit ${stopped.exitCode}: ${stopped.stderr.trim().slice(-500)}`);
  } catch (err) {
    Context.current().log.warn(`Could not stop the detached run ${run.name}: it may still be running on the server`, {
      error: String(err),
    });
  }
}

type Tx = Parameters<Parameters<ReturnType<typeof db>["$transaction"]>[0]>[0];

/**
 * The seed's persist(): the inventory row of what the milestone installed. A records milestone
 * means "this package is now installed", so the row is `active` — for a package's own install
 * the operation's completion says the same a moment later; for provisioning, which installs
 * many packages in one operation, this is what makes each appear installed as it lands.
 */
async function recordInventory(tx: Tx, serverId: string, milestone: Milestone, parsed: ParsedScriptOutput): Promise<void> {
  const { type, name, variant = "", versionFrom, configuration, configurationFrom } = milestone.records!;
  const version = versionFrom === undefined ? milestone.records!.version : namedOutput(milestone, parsed, versionFrom);
  const fromOutputs = Object.fromEntries(
    Object.entries(configurationFrom ?? {}).map(([key, output]) => [key, namedOutput(milestone, parsed, output, 4096)]),
  );
  const config = configuration || configurationFrom ? ({ ...configuration, ...fromOutputs } as object) : undefined;
  await tx.serverPackage.upsert({
    where: { serverId_type_variant: { serverId, type, variant } },
    create: { serverId, type, name, variant, version, configuration: config, status: "active" },
    update: { name, version, configuration: config, status: "active", errorLog: null },
  });
}

/** Rows a milestone brings along (provisioning's firewall rules), upserted by their plan-chosen ids. */
async function bringResources(tx: Tx, serverId: string, brings: BroughtResources): Promise<void> {
  const kind = resourceKind(brings.kind);
  if (!kind) throw new Error(`A milestone brings rows of an unknown kind ${brings.kind}`);
  const table = resourceTable(kind, tx);
  for (const { id, ...columns } of brings.rows) {
    const existing = await table.findUnique({ where: { id } });
    if (existing && existing.serverId !== serverId) throw new Error(`Row ${id} belongs to another server`);
    if (existing) await table.updateMany({ where: { id }, data: { status: "active", errorLog: null } });
    else await table.create({ data: { ...columns, id, serverId, status: "active" } });
  }
}

/** The operation's resource it acts on: where a milestone's `sets` go. */
interface ResourceOf {
  kind: ResourceKind;
  id: string;
}

/** Milestone.sets: columns of the operation's own row from named step outputs (a deploy's commit sha and message). */
async function setColumns(tx: Tx, resource: ResourceOf, milestone: Milestone, parsed: ParsedScriptOutput): Promise<void> {
  const data = Object.fromEntries(
    Object.entries(milestone.sets ?? {}).map(([column, output]) => [column, namedOutput(milestone, parsed, output, 4096)]),
  );
  await resourceTable(resource.kind, tx).updateMany({ where: { id: resource.id }, data });
}

/** The trimmed stdout of the milestone's step whose output is named `name` (see Step.output). */
function namedOutput(milestone: Milestone, parsed: ParsedScriptOutput, name: string, max = 64): string | null {
  const index = milestone.steps.findIndex((s) => s.output === name);
  if (index < 0) throw new Error(`Milestone ${milestone.name} has no step whose output is named "${name}"`);
  return parsed.steps[index]?.stdout.trim().slice(0, max) || null;
}

function tail(text: string): string {
  const buf = Buffer.from(text);
  return buf.length <= OUTPUT_TAIL_BYTES ? text : buf.subarray(buf.length - OUTPUT_TAIL_BYTES).toString("utf8");
}

/**
 * ActionDefinition.cleanup: undo what a failed or cancelled run left on the server (a failed
 * deploy's release directory), before the row is marked. Each milestone's commands run as one
 * script on the pooled connection, in the channel (they are short and safe to run twice).
 * Best effort: a failure is logged and reported back, never thrown — the operation's own error
 * is what the user reads.
 */
export async function cleanupOperation(input: { operationId: string; serverId: string }): Promise<{ failed: string | null }> {
  return classified(async () => {
    const loaded = await loadOperation(input.operationId, input.serverId);
    if (!loaded?.resource) return { failed: null };
    const plan = cleanupPlanOf({ ...loaded, resource: loaded.resource });
    const ctx = Context.current();
    for (const milestone of plan) {
      let conn: Awaited<ReturnType<typeof acquire>> | undefined;
      try {
        conn = await acquire(input.serverId);
        const rendered = script(milestone.steps);
        const result = await conn.exec(rendered.command, {
          label: milestone.label,
          timeoutMs: 120_000,
          redact: redactionsOf(loaded),
        });
        if (result.exitCode !== 0) throw new Error(`exit ${result.exitCode}: ${result.stderr.trim().slice(-500)}`);
      } catch (err) {
        if (err instanceof SshError) discard(input.serverId);
        const failed = `${milestone.label}: ${err instanceof Error ? err.message : String(err)}`;
        ctx.log.warn(`Cleanup of operation ${input.operationId} failed`, { error: failed });
        return { failed };
      } finally {
        if (conn) release(input.serverId, conn);
      }
    }
    return { failed: null };
  });
}

/** The step-marker nonce of a detached run: stable for the run, unguessable without the worker's key. */
function markerNonce(runName: string): string {
  return createHmac("sha256", sharedEnv().BROKEFORGE_ENCRYPTION_KEY).update(`marker:${runName}`).digest("hex").slice(0, 32);
}
