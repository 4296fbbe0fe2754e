// `operations <serverId> [--limit n] [--json]`: a server's operations, newest first.
import { oneLine, parse, positionals, printJson, table, UsageError, when, type Ctx } from "./context";

export async function operations(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { limit: { type: "string" }, json: { type: "boolean" } });
  const [serverId] = positionals(rest, "serverId");
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number, got ${values.limit}`);
  const ops = await ctx.api().trpc.operations.list.query({ serverId: serverId!, limit });
  if (values.json) return (printJson(ops), 0);
  if (ops.length === 0) return (console.log("No operations."), 0);
  const rows = ops.map((o) => [
    o.kind,
    o.state,
    o.milestoneTotal ? `${o.milestoneStep}/${o.milestoneTotal}` : "-",
    when(o.createdAt),
    o.title || "-",
    oneLine(o.errorLog),
  ]);
  console.log(table(["KIND", "STATE", "STEP", "WHEN", "WHAT", "ERROR"], rows));
  return 0;
}
