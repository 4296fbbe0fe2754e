// `deploy --site-id=ID` and `deployments:prune [--keep=N] [--dry-run] [--site-id=ID]`.
import { TRPCClientError } from "@trpc/client";
import { MAX_KEEP_RELEASES } from "../../domain/sites";
import { parse, positionals, printJson, table, UsageError, when, type Ctx } from "./context";

export const deploymentsUsage = [
  "  deploy --site-id=ID [--json]".padEnd(41) + "deploy the site's branch (joins a deploy already queued)",
  "  deployments:prune [--keep=N] [--dry-run] [--site-id=ID] [--json]",
  "".padEnd(41) + "delete the release directories beyond each site's retention",
  "".padEnd(41) + "(all your sites, or one): queues a prune per site with",
  "".padEnd(41) + "something to delete and prints its operation; --keep=N also",
  "".padEnd(41) + "becomes the retention of each site pruned (default: each",
  "".padEnd(41) + "site's own, 14 unless changed); --dry-run lists and deletes nothing",
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
  const keep = values.keep === undefined ? undefined : Number(values.keep);
  // The real run saves it as the sites' retention, so the dry run takes what the setting takes.
  if (keep !== undefined && (!/^\d+$/.test(values.keep!) || keep < 1 || keep > MAX_KEEP_RELEASES))
    throw new UsageError(`--keep must be a whole number from 1 to ${MAX_KEEP_RELEASES}, got ${values.keep}`);
  const siteId = siteIdOf(values["site-id"], false);
  const api = ctx.api().trpc;
  const sites = await api.deployments.prunable.query({ ...(keep !== undefined ? { keep } : {}), ...(siteId ? { siteId } : {}) });
  const count = sites.reduce((n, s) => n + s.releases.length, 0);
  if (values["dry-run"]) {
    if (values.json) return (printJson({ dryRun: true, keep: keep ?? null, sites }), 0);
    const rows = sites.flatMap((s) =>
      s.releases.map((r) => [s.domain, String(s.keep), r.release, r.id, when(r.createdAt), r.releasePath ?? "-"]),
    );
    if (rows.length === 0) console.log("Nothing to prune: no site has a release beyond the ones it keeps.");
    else console.log(table(["SITE", "KEEP", "RELEASE", "DEPLOYMENT", "DEPLOYED", "DIRECTORY"], rows));
    console.log(`dry run: nothing was deleted (${count} release(s) would go)`);
    return 0;
  }
  // One prune per site with something beyond its retention (the site asked for by id always:
  // its --keep is saved even when nothing goes now). Each runs on its server's queue; a site
  // that is busy (being updated, removed) is said so and the others still go.
  const chosen = sites.filter((s) => s.releases.length > 0 || s.siteId === siteId);
  const results = [];
  for (const s of chosen) {
    try {
      const { operationId } = await api.sites.prune.mutate({ id: s.siteId, ...(keep !== undefined ? { keep } : {}) });
      results.push({ siteId: s.siteId, domain: s.domain, keep: s.keep, releases: s.releases, operationId, error: null });
    } catch (e) {
      if (!(e instanceof TRPCClientError) || !(e.data as { code?: string } | undefined)?.code) throw e;
      results.push({ siteId: s.siteId, domain: s.domain, keep: s.keep, releases: s.releases, operationId: null, error: e.message });
    }
  }
  const failed = results.filter((r) => r.error !== null).length;
  if (values.json) printJson({ dryRun: false, keep: keep ?? null, sites: results });
  else if (results.length === 0) console.log("Nothing to prune: no site has a release beyond the ones it keeps.");
  else {
    console.log(
      table(
        ["SITE", "KEEP", "RELEASES", "OPERATION"],
        results.map((r) => [r.domain, String(r.keep), String(r.releases.length), r.operationId ?? `not queued: ${r.error}`]),
      ),
    );
    console.log(`${results.length - failed} prune(s) queued: \`npm run ops -- watch\` follows them`);
  }
  return failed > 0 ? 1 : 0;
}
