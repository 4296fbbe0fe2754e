// `deploy --site-id=ID` and `deployments:prune --keep=14 [--dry-run] [--site-id=ID]`.
import { KEEP_RELEASES } from "../../domain/sites";
import { parse, positionals, printJson, table, UsageError, when, type Ctx } from "./context";

export const deploymentsUsage = [
  "  deploy --site-id=ID [--json]".padEnd(41) + "deploy the site's branch (joins a deploy already queued)",
  `  deployments:prune [--keep=${KEEP_RELEASES}] [--dry-run] [--site-id=ID] [--json]`,
  "".padEnd(41) + "the release directories retention would delete (all your",
  "".padEnd(41) + "sites, or one); --dry-run lists them and deletes nothing",
].join("\n");

function siteIdOf(value: string | undefined, required: true): string;
function siteIdOf(value: string | undefined, required: false): string | undefined;
function siteIdOf(value: string | undefined, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) throw new UsageError("Missing --site-id=ID");
    return undefined;
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new UsageError(`--site-id is not a site id: ${value}`);
  return value;
}

export async function deploy(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, { "site-id": { type: "string" }, json: { type: "boolean" } });
  positionals(rest);
  const id = siteIdOf(values["site-id"], true);
  const result = await ctx.api().trpc.sites.deploy.mutate({ id, trigger: "cli" });
  if (values.json) return (printJson(result), 0);
  console.log(
    result.collapsed
      ? `deployment ${result.deploymentId} was already queued: joined it (operation ${result.operationId})`
      : `deployment ${result.deploymentId} queued (operation ${result.operationId})`,
  );
  return 0;
}

export async function prune(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals: rest } = parse(args, {
    keep: { type: "string" },
    "dry-run": { type: "boolean" },
    "site-id": { type: "string" },
    json: { type: "boolean" },
  });
  positionals(rest);
  const keep = values.keep === undefined ? KEEP_RELEASES : Number(values.keep);
  if (!Number.isInteger(keep) || keep < 1 || keep > 1000)
    throw new UsageError(`--keep must be a whole number from 1 to 1000, got ${values.keep}`);
  const siteId = siteIdOf(values["site-id"], false);
  const sites = await ctx.api().trpc.deployments.prunable.query({ keep, ...(siteId ? { siteId } : {}) });
  if (values.json) printJson({ dryRun: Boolean(values["dry-run"]), keep, sites });
  else {
    const rows = sites.flatMap((s) => s.releases.map((r) => [s.domain, r.release, r.id, when(r.createdAt), r.releasePath ?? "-"]));
    if (rows.length === 0) console.log(`Nothing to prune: no site has more than ${keep} successful releases on disk.`);
    else console.log(table(["SITE", "RELEASE", "DEPLOYMENT", "DEPLOYED", "DIRECTORY"], rows));
  }
  if (values["dry-run"]) {
    if (!values.json) console.log(`dry run: nothing was deleted (${sites.reduce((n, s) => n + s.releases.length, 0)} release(s) would go)`);
    return 0;
  }
  // Each deploy already prunes its site after it succeeds (the same rule); a prune on demand
  // through the engine needs an operation kind of its own, which the catalogue does not have yet.
  console.error("error: pruning without --dry-run is not available yet: each successful deploy prunes its site (keeping 14).");
  return 1;
}
