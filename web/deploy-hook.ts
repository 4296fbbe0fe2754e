// POST /hooks/deploy/<token>: a site's deploy URL, for git hosts and scripts. A machine
// endpoint: no session, no Origin check (nothing ambient authorizes it; the token in the path
// does). The token is looked up by its sha256; with a webhook secret set, the request must
// also be signed the GitHub way (X-Hub-Signature-256, HMAC of the raw body) or carry the
// GitLab token (X-Gitlab-Token). A push to another branch is acknowledged and ignored.
import { createHmac, timingSafeEqual } from "node:crypto";
import { TRPCError } from "@trpc/server";
import express, { type Request, type Response, type Router } from "express";
import { sha256 } from "../core/crypto";
import { db } from "../core/db";
import { startDeploy, webhookSecretOf } from "../trpc/routers/sites";

/** Largest body read (push payloads of big pushes run to a few hundred KiB). */
export const HOOK_BODY_LIMIT = "1mb";
/** Requests per token per minute; more get 429 (a git host retries, a loop stops hurting). */
export const HOOK_RATE_PER_MINUTE = 30;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Recent request times per token hash (in memory: one web process, and a limit, not a ledger). */
const recent = new Map<string, number[]>();

function limited(key: string, now = Date.now()): boolean {
  const times = (recent.get(key) ?? []).filter((t) => now - t < 60_000);
  const over = times.length >= HOOK_RATE_PER_MINUTE;
  if (!over) times.push(now);
  recent.set(key, times);
  // Forget idle tokens now and then, so wrong guesses cannot grow the map for ever.
  if (recent.size > 10_000) for (const [k, v] of recent) if (v.every((t) => now - t >= 60_000)) recent.delete(k);
  return over;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** GitHub's signature of the raw body, or GitLab's token, against the site's secret. */
function signed(req: Request, body: Buffer, secret: string): boolean {
  const github = req.get("x-hub-signature-256");
  if (github) {
    const expected = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
    return sameBytes(Buffer.from(github.trim()), Buffer.from(expected));
  }
  const gitlab = req.get("x-gitlab-token");
  if (gitlab !== undefined) {
    // Hashes first: equal lengths for timingSafeEqual, whatever was sent.
    return sameBytes(Buffer.from(sha256(gitlab), "hex"), Buffer.from(sha256(secret), "hex"));
  }
  return false;
}

/** The pushed ref of a GitHub/GitLab push payload, if the body is one. */
function pushedRef(body: Buffer): string | null {
  if (body.length === 0) return null;
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    const ref: unknown = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "ref") : undefined;
    return typeof ref === "string" ? ref : null;
  } catch {
    return null; // a form post or a script's empty body: a plain "deploy now"
  }
}

async function handle(req: Request, res: Response): Promise<void> {
  const token = req.params.token ?? "";
  const notFound = () => void res.status(404).json({ error: "No site has this deploy URL" });
  if (!TOKEN.test(token)) return notFound();
  const hash = sha256(token);
  if (limited(hash)) {
    res
      .status(429)
      .set("Retry-After", "60")
      .json({ error: `At most ${HOOK_RATE_PER_MINUTE} deploy requests a minute` });
    return;
  }
  const site = await db().site.findUnique({ where: { deployTokenHash: hash }, include: { server: { select: { userId: true } } } });
  // The index found it by hash; compare again in constant time so timing says nothing either way.
  if (!site || !sameBytes(Buffer.from(site.deployTokenHash, "hex"), Buffer.from(hash, "hex"))) return notFound();

  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  const secret = webhookSecretOf(site);
  if (secret !== null && !signed(req, body, secret)) {
    res.status(401).json({ error: "Bad or missing webhook signature (X-Hub-Signature-256 or X-Gitlab-Token)" });
    return;
  }
  const ref = pushedRef(body);
  if (ref !== null && ref !== `refs/heads/${site.branch}`) {
    const pushed = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
    res.status(202).json({ ignored: `ignored: pushed ${pushed}, site deploys ${site.branch}` });
    return;
  }
  const { server, ...row } = site;
  try {
    const { deploymentId, collapsed } = await startDeploy(row, { userId: null, operationUserId: server.userId, trigger: "hook" });
    res.status(200).json({ deploymentId, collapsed });
  } catch (e) {
    if (!(e instanceof TRPCError)) throw e;
    const status = e.code === "PRECONDITION_FAILED" || e.code === "CONFLICT" ? 409 : e.code === "SERVICE_UNAVAILABLE" ? 503 : 500;
    res.status(status).json({ error: e.message });
  }
}

export function deployHookRouter(): Router {
  const r = express.Router();
  r.post("/hooks/deploy/:token", express.raw({ type: () => true, limit: HOOK_BODY_LIMIT }), (req, res, next) => {
    handle(req, res).catch(next);
  });
  // Errors of this path answer JSON (a too-large body: 413), never the app's HTML error page.
  r.use("/hooks/deploy", (err: { status?: number; message?: string }, _req: Request, res: Response, _next: express.NextFunction) => {
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    if (status === 500) console.error(`[deploy hook] ${err.message ?? String(err)}`);
    res.status(status).json({
      error:
        status === 413 ? `The body must be at most ${HOOK_BODY_LIMIT}` : status === 500 ? "Internal error" : (err.message ?? "Bad request"),
    });
  });
  return r;
}
