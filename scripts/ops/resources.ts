// `<kind> ls|add|rm|<action>`: the same commands for every resource kind in the catalogue
// (packages, firewall, scheduler, supervisor…). Flags and columns come from the kind's
// `fields`; the server validates the input and answers per field. Adding and removing only
// queue the work; `watch` or `<kind> ls` shows it land.
import { generatedRouterKinds } from "../../catalogue";
import type { ResourceKind } from "../../catalogue/kit";
import { ACTIONS } from "../../domain/resources";
import { parse, positionals, printJson, table, UsageError, type Ctx } from "./context";

/** The extra actions a kind has besides install/remove (pause, resume, restart), plus retry. */
function verbsOf(kind: ResourceKind): string[] {
  return ["retry", ...ACTIONS.filter((a) => a !== "install" && a !== "remove" && kind.actions[a])];
}

/** One usage line per command of every kind, for `help`. */
export function resourceUsage(): string {
  // The site kinds have commands of their own (scripts/ops/deployments.ts).
  return generatedRouterKinds()
    .map((kind) => {
      const flags = kind.fields.filter((f) => f.input !== false).map((f) => `--${f.flag ?? f.key} …`);
      return [
        `  ${kind.api} ls <serverId> [--json]`.padEnd(41) + `list a server's ${kind.label.many.toLowerCase()}`,
        `  ${kind.api} add <serverId> ${flags.join(" ")}`,
        `  ${kind.api} rm <id>`.padEnd(41) + `remove (queued)`,
        `  ${kind.api} ${verbsOf(kind).join("|")} <id>`,
      ].join("\n");
    })
    .join("\n");
}

export function resourceCommands(): Record<string, (args: string[], ctx: Ctx) => Promise<number>> {
  return Object.fromEntries(generatedRouterKinds().map((kind) => [kind.api, (args: string[], ctx: Ctx) => run(kind, args, ctx)]));
}

async function run(kind: ResourceKind, args: string[], ctx: Ctx): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "add") return add(kind, rest, ctx);
  if (sub === "ls" || sub === "list") return ls(kind, rest, ctx);
  if (sub === "rm" || sub === "remove") return act(kind, "remove", rest, ctx);
  if (sub && verbsOf(kind).includes(sub)) return act(kind, sub, rest, ctx);
  throw new UsageError(
    sub ? `Unknown ${kind.api} command: ${sub}` : `Missing ${kind.api} command (add, rm, ls or ${verbsOf(kind).join(", ")})`,
  );
}

async function add(kind: ResourceKind, args: string[], ctx: Ctx): Promise<number> {
  const inputs = kind.fields.filter((f) => f.input !== false);
  const options = Object.fromEntries(inputs.map((f) => [f.flag ?? f.key, { type: "string" as const }]));
  const parsed = parse(args, { ...options, json: { type: "boolean" } });
  const values: Record<string, unknown> = parsed.values; // one string flag per input field, and --json
  const [serverId] = positionals(parsed.positionals, "serverId");
  // Missing flags are left out (the schema's default applies, or it says what is required);
  // the server answers for every bad field at once.
  const input: Record<string, unknown> = { serverId };
  for (const f of inputs) {
    const text = values[f.flag ?? f.key];
    if (typeof text !== "string") continue;
    input[f.key] = f.type === "number" ? Number(text) : f.type === "boolean" ? ["true", "yes", "1"].includes(text) : text;
  }
  const created = await ctx.api().untyped.mutation(`${kind.api}.create`, input);
  if (values.json) return (printJson(created), 0);
  console.log(`${field(created, "id")} ${field(created, "status")}`);
  return 0;
}

async function act(kind: ResourceKind, action: string, args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { json: { type: "boolean" } });
  const [id] = positionals(rest, "id");
  const result = await ctx.api().untyped.mutation(`${kind.api}.${action}`, { id });
  if (values.json) return (printJson(result), 0);
  const state = action === "remove" ? "removing" : action === "retry" ? "retrying" : `${action} queued`;
  console.log(`${field(result, "id")} ${state} (operation ${field(result, "operationId")})`);
  return 0;
}

async function ls(kind: ResourceKind, args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { json: { type: "boolean" } });
  const [serverId] = positionals(rest, "serverId");
  const rows = await ctx.api().untyped.query(`${kind.api}.list`, { serverId });
  if (values.json) return (printJson(rows), 0);
  if (!Array.isArray(rows) || rows.length === 0) return (console.log(`No ${kind.label.many.toLowerCase()}.`), 0);
  const cells = rows.map((row: unknown) => ["id", ...kind.fields.map((f) => f.key), "status"].map((key) => field(row, key)));
  console.log(table(["ID", ...kind.fields.map((f) => f.label), "STATUS"], cells));
  return 0;
}

/** A column of an API row as text ("-" when empty). */
function field(row: unknown, key: string): string {
  const value: unknown = typeof row === "object" && row !== null ? Reflect.get(row, key) : undefined;
  return value === null || value === undefined || value === "" ? "-" : String(value);
}
