// `servers [--json]`: my servers with their connection status and current operation.
import { parse, positionals, printJson, table, type Ctx } from "./context";

export async function servers(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { json: { type: "boolean" } });
  positionals(rest);
  const list = await ctx.api().trpc.servers.list.query();
  if (values.json) return (printJson(list), 0);
  if (list.length === 0) return (console.log("No servers."), 0);
  const rows = list.map((s) => {
    const op = s.currentOperation;
    const current = op ? `${op.kind} ${op.state}${op.milestoneTotal ? ` ${op.milestoneStep}/${op.milestoneTotal}` : ""}` : "-";
    const alsoQueued = s.queued - (op?.state === "queued" ? 1 : 0); // `queued` counts the current one too
    return [
      s.id,
      s.name,
      s.sshPort === 22 ? s.host : `${s.host}:${s.sshPort}`,
      s.connectionStatus,
      alsoQueued > 0 ? `${current} (+${alsoQueued} queued)` : current,
    ];
  });
  console.log(table(["ID", "NAME", "HOST", "CONNECTION", "OPERATION"], rows));
  return 0;
}
