// `firewall add|rm|ls`: a server's firewall rules. Adding and removing only queue the work;
// `watch` or `firewall ls` shows the rule becoming active (or removed).
import { parse, positionals, printJson, table, UsageError, type Ctx } from "./context";

export async function firewall(args: string[], ctx: Ctx): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "add":
      return add(rest, ctx);
    case "rm":
    case "remove":
      return rm(rest, ctx);
    case "ls":
    case "list":
      return ls(rest, ctx);
    default:
      throw new UsageError(sub ? `Unknown firewall command: ${sub}` : "Missing firewall command (add, rm or ls)");
  }
}

type Protocol = "tcp" | "udp" | "any";
type Action = "allow" | "deny";

async function add(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, {
    name: { type: "string" },
    port: { type: "string" },
    protocol: { type: "string" },
    action: { type: "string" },
    from: { type: "string" },
    json: { type: "boolean" },
  });
  const [serverId] = positionals(rest, "serverId");
  // The server validates every field (and answers per field); missing ones are sent empty.
  const rule = await ctx.api().trpc.firewall.create.mutate({
    serverId: serverId!,
    name: values.name ?? "",
    port: values.port ?? "",
    protocol: values.protocol as Protocol | undefined,
    action: values.action as Action | undefined,
    source: values.from ?? "",
  });
  if (values.json) return printJson(rule), 0;
  console.log(`${rule.id} ${rule.status}`);
  return 0;
}

async function rm(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { json: { type: "boolean" } });
  const [id] = positionals(rest, "ruleId");
  const result = await ctx.api().trpc.firewall.remove.mutate({ id: id! });
  if (values.json) return printJson(result), 0;
  console.log(`${result.id} removing (operation ${result.operationId})`);
  return 0;
}

async function ls(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { json: { type: "boolean" } });
  const [serverId] = positionals(rest, "serverId");
  const rules = await ctx.api().trpc.firewall.list.query({ serverId: serverId! });
  if (values.json) return printJson(rules), 0;
  if (rules.length === 0) return console.log("No firewall rules."), 0;
  const rows = rules.map((r) => [r.id, r.name, r.port, r.protocol, r.action, r.source ?? "any", r.status]);
  console.log(table(["ID", "NAME", "PORT", "PROTOCOL", "ACTION", "FROM", "STATUS"], rows));
  return 0;
}
