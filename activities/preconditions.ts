// A plan's preconditions, checked after the operation begins and before its first milestone:
// a missing package (in BrokeForge's inventory) or a missing user/directory (one quick script
// on the server) fails the operation at once with the definition's own words, instead of a
// real command failing three times over.
import { ApplicationFailure, Context } from "@temporalio/activity";
import { classified } from "./failures";
import { loadOperation, preconditionsOf } from "./plans";
import { SshError } from "./ssh/errors";
import { acquire, discard, release } from "./ssh/pool";
import { script } from "./ssh/shell";

const failed = (message: string) => ApplicationFailure.nonRetryable(message, "PreconditionFailed");

/** The server-side checks; the packages a plan needs were checked by beginOperation. */
export async function checkPreconditions(input: { operationId: string; serverId: string }): Promise<void> {
  return classified(async () => {
    const loaded = await loadOperation(input.operationId, input.serverId);
    if (!loaded?.resource) return; // settled elsewhere; the milestone will say so
    const preconditions = preconditionsOf({ ...loaded, resource: loaded.resource });

    const checks = preconditions.flatMap((p) => (p.kind === "check" ? [{ label: p.message, argv: p.argv }] : []));
    if (checks.length === 0) return;
    const rendered = script(checks);
    const conn = await acquire(loaded.server.id);
    let result;
    try {
      result = await conn.exec(rendered.command, {
        label: "Checking preconditions",
        timeoutMs: 60_000,
        signal: Context.current().cancellationSignal,
      });
    } catch (err) {
      if (err instanceof SshError && err.kind !== "command_timeout") discard(loaded.server.id);
      throw err;
    } finally {
      release(loaded.server.id, conn);
    }
    const parsed = rendered.parse(result.stdout, result.stderr);
    const failedCheck = parsed.failed ?? parsed.incomplete;
    if (failedCheck?.label) throw failed(failedCheck.label);
    if (result.exitCode !== 0) throw ApplicationFailure.retryable(`Checking preconditions exited with ${result.exitCode}`, "CommandFailed");
  });
}
