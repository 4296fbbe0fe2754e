// Sites (issue 12) on a real Debian 12 container, the user's path end to end:
//   time_to_first_deploy_s  servers.create with role "web" on a fresh container (addLikeAUser:
//                           create, authorize the root key, connection test) → the deployed app
//                           answering through nginx with release=1. Provisioning included. The
//                           site user's deploy key is authorized on the git server
//                           (tests/fixtures/git-server.ts) the moment the site_user package
//                           records it, as a user would paste it; the site is created with the
//                           repository as soon as the provisioning is active. Printed in three
//                           parts: connection test, provisioning, site create + first deploy.
//   deploy_overhead_ratio   a BrokeForge deploy (sites.deploy) vs the same deployPlan milestones
//                           for a fresh release, each rendered by script() and run in order over
//                           the harness's one SSH connection (server.exec): no Temporal, no
//                           database, no detached units, no preconditions. Alternated BF/raw 3
//                           times each; medians. Two ratios over the raw median: the operation's
//                           own startedAt→finishedAt, and click → success observed.
//   rollback_ms             deployments.rollback click → the operation's success observed
//                           (median of 5, alternating between two releases), and the server-side
//                           milestone (the one "rollback" milestone's startedAt→finishedAt).
// Bounded: every wait has its own deadline and the whole phase PHASE_MS; a figure not measured is
// null with its reason (sites_unmeasured), as provision.ts does. Needs root (the Debian harness
// and the git server's sshd).
import http from "node:http";
import type { Bench } from "./harness";
import { cpuReport, cpuSnapshot } from "./cpu";
import { loadAverage } from "./report";
import { median, round } from "./stats";
import { addLikeAUser } from "./targets";

type Server = Awaited<ReturnType<typeof import("../tests/debian/harness").bootDebian>>;
type GitServer = Awaited<ReturnType<typeof import("../tests/fixtures/git-server").startGitServer>>;

const DOMAIN = "bench.brokeforge.test";
const PHASE_MS = 20 * 60_000;
/** Role web on an nspawn container, loaded machine: 529 s seen in the provision phase. */
const PROVISION_MS = 14 * 60_000;
const FIRST_DEPLOY_MS = 6 * 60_000;
const DEPLOY_MS = 3 * 60_000;
const ROLLBACK_MS = 60_000;
const DEPLOY_PAIRS = 3;
const ROLLBACKS = 5;
/** How often a wait looks: small next to what is measured (deploys take seconds, a rollback ~1 s). */
const POLL_MS = 20;

const firstLine = (err: unknown) => String(err instanceof Error ? err.message : err).split("\n")[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function sitesDeploys(bench: Bench): Promise<void> {
  const { report } = bench;
  const { log } = report;
  report.section("sites: time to first deploy, deploy overhead vs raw scripts, rollback (one Debian 12 container, role web)");
  log(`  load average at the start: ${loadAverage()} (2 cores shared with other work: read every figure next to it)`);
  const reasons: Record<string, string> = {};
  const unmeasured = (figures: string[], reason: string) => {
    for (const f of figures) {
      if (reasons[f]) continue;
      reasons[f] = reason;
      log(`  ${f}: NOT MEASURED — ${reason}`);
      report.record({ [f]: null });
    }
    report.record({ sites_unmeasured: reasons });
  };
  const ALL = ["time_to_first_deploy_s", "deploy_overhead_ratio", "rollback_ms"];
  if (process.getuid?.() !== 0)
    return unmeasured(ALL, "needs root (the Debian harness: overlay mounts, network namespaces, systemd-nspawn; the git server's sshd)");

  const phaseEnd = Date.now() + PHASE_MS;
  let server: Server | undefined;
  let git: GitServer | undefined;
  try {
    const t = Date.now();
    const harness = await import("../tests/debian/harness");
    const { startGitServer, phpApp } = await import("../tests/fixtures/git-server");
    const [s, g] = await Promise.allSettled([harness.bootDebian({ label: "sites" }), startGitServer()]);
    if (s.status === "fulfilled") server = s.value;
    if (g.status === "fulfilled") git = g.value;
    if (s.status === "rejected") return unmeasured(ALL, `the Debian container did not boot: ${firstLine(s.reason)}`);
    if (g.status === "rejected") return unmeasured(ALL, `the git server did not start: ${firstLine(g.reason)}`);
    await server!.allowHostPort(git!.port);
    await git!.createRepo("app");
    await git!.commit("app", phpApp("1"), "Release 1");
    const httpPort = await server!.forward(80);
    // A server image's apt lists are filled (cloud images run apt update on first boot); the
    // test tree ships them empty. Untimed, as in provision.ts.
    await server!.sh("DEBIAN_FRONTEND=noninteractive apt-get update -qq", { timeoutMs: 300_000 });
    log(
      `  container ${server!.name}, git server on 127.0.0.1:${git!.port}, nginx forwarded to :${httpPort}, apt lists filled: ${Date.now() - t} ms, untimed`,
    );
    await measure(bench, server!, git!, httpPort, phaseEnd, unmeasured);
  } catch (err) {
    unmeasured(ALL, `run failed: ${firstLine(err)}`);
    throw err;
  } finally {
    await git?.stop().catch((err) => log(`  (git server stop failed: ${err})`));
    await server?.stop().catch((err) => log(`  (stop ${server?.name} failed: ${err})`));
  }
}

async function measure(
  bench: Bench,
  server: Server,
  git: GitServer,
  httpPort: number,
  phaseEnd: number,
  unmeasured: (figures: string[], reason: string) => void,
): Promise<void> {
  const { engine: e, report } = bench;
  const { log } = report;
  const { deployPlan } = await import("../catalogue/resources/deployment");
  const { loadServerFacts } = await import("../core/server-facts");
  const { script } = await import("../activities/ssh/shell");
  const { DEPLOYMENTS_HOME, releaseName } = await import("../domain/sites");

  /** Polls `get` until it returns a value; the step's own bound, never past the phase's end. */
  const waitFor = async <T>(
    what: string,
    boundMs: number,
    get: () => Promise<T | null | undefined>,
    state: () => Promise<string> = async () => "",
  ): Promise<T> => {
    const deadline = Math.min(Date.now() + boundMs, phaseEnd);
    for (;;) {
      const v = await get();
      if (v !== null && v !== undefined) return v;
      if (Date.now() > deadline)
        throw new Error(
          `${what}: not done within its bound (${boundMs / 1000} s, or the phase's 20 min)${await state().then(
            (x) => (x ? `; ${x}` : ""),
            () => "",
          )}`,
        );
      await sleep(POLL_MS);
    }
  };
  // node:http, not fetch: Node 20's fetch does not send a Host header of our choosing, and
  // nginx's default server closes the connection on an unknown host.
  const visit = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port: httpPort, path: "/", headers: { Host: DOMAIN }, timeout: 5_000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error("no answer in 5 s")));
      req.on("error", reject);
    });
  const serves = async (release: string) => {
    const v = await visit().catch(() => null);
    return v?.status === 200 && v.body.includes(`release=${release}\n`) ? true : null;
  };

  // ---- time to first deploy ----
  const cpu0 = cpuSnapshot();
  const t0 = Date.now();
  const serverId = await addLikeAUser(e, "sites-bench", server.sshPort, (key) => server.authorize(key), { role: "web" });
  const connectedAt = Date.now();
  log(`  create + authorize + connection test: ${connectedAt - t0} ms; provisioning (role web) queued`);
  // The user pastes the site user's deploy key into the git host as soon as BrokeForge shows it.
  let keyAuthorizedAt = 0;
  const keyWatcher = (async () => {
    const key = await waitFor("the site user's deploy key", PROVISION_MS, async () => {
      const p = await e.db.serverPackage.findFirst({ where: { serverId, type: "site_user" } });
      const k = String((p?.configuration as Record<string, unknown> | null)?.deployKey ?? "");
      return k.startsWith("ssh-") ? k : null;
    });
    await git.authorize(key);
    keyAuthorizedAt = Date.now();
  })();
  keyWatcher.catch(() => undefined);
  await waitFor("provisioning active", PROVISION_MS, async () => {
    const p = await e.db.provisioning.findUnique({ where: { serverId } });
    if (p?.status === "failed") throw new Error(`provisioning failed: ${(p.errorLog ?? "").slice(0, 300)}`);
    return p?.status === "active" ? p : null;
  });
  const provisionedAt = Date.now();
  await keyWatcher;
  log(
    `  provisioning: ${provisionedAt - connectedAt} ms (deploy key authorized on the git server at +${keyAuthorizedAt - connectedAt} ms)`,
  );
  const php = await e.db.serverPackage.findFirstOrThrow({ where: { serverId, type: "php", status: "active" } });
  const site = await e.api.sites.create({
    serverId,
    domain: DOMAIN,
    phpVersion: php.variant,
    repository: git.repoUrl("app", { fromGuest: true }),
    branch: "main",
  });
  await waitFor(
    "release=1 through nginx",
    FIRST_DEPLOY_MS,
    async () => {
      const d = await e.db.deployment.findFirst({ where: { siteId: site.id }, orderBy: { createdAt: "asc" } });
      if (d?.status === "failed") throw new Error(`the first deploy failed: ${(d.errorLog ?? "").slice(0, 300)}`);
      const s = await e.db.site.findUnique({ where: { id: site.id } });
      if (s?.status === "failed") throw new Error(`the site's install failed: ${(s.errorLog ?? "").slice(0, 300)}`);
      return serves("1");
    },
    async () => {
      // Where it stood: the site, its deployments and operations, and what nginx answered.
      const s = await e.db.site.findUnique({ where: { id: site.id } });
      const ds = await e.db.deployment.findMany({ where: { siteId: site.id } });
      const ops = await e.db.operation.findMany({
        where: { serverId, createdAt: { gte: new Date(provisionedAt - 1000) } },
        include: { milestones: true },
      });
      const v = await visit().then(
        (r) => `${r.status} ${r.body.slice(0, 80).replaceAll("\n", " ")}`,
        (err) => firstLine(err),
      );
      return `site ${s?.status}; deployments ${ds.map((d) => d.status).join(",")}; operations ${ops
        .map((o) => `${o.resourceType}/${o.action} ${o.state} [${o.milestones.map((m) => `${m.name}:${m.state}`).join(" ")}]`)
        .join("; ")}; nginx answered ${v}`;
    },
  );
  const answeredAt = Date.now();
  const siteOps = await e.db.operation.findMany({
    where: { serverId, createdAt: { gte: new Date(provisionedAt - 1000) } },
    orderBy: { createdAt: "asc" },
  });
  const opLine = siteOps
    .filter((o) => o.startedAt && o.finishedAt)
    .map((o) => `${o.resourceType} ${o.action} ${o.finishedAt!.getTime() - o.startedAt!.getTime()} ms`)
    .join(", ");
  const total = answeredAt - t0;
  const breakdown = {
    connection_test: round((connectedAt - t0) / 1000, 1),
    provisioning: round((provisionedAt - connectedAt) / 1000, 1),
    site_create_and_first_deploy: round((answeredAt - provisionedAt) / 1000, 1),
  };
  log(`  site create + first deploy → release=1 through nginx: ${answeredAt - provisionedAt} ms (operations: ${opLine})`);
  log(
    `  time_to_first_deploy_s ${round(total / 1000, 1)} = connection test ${breakdown.connection_test} + provisioning ${breakdown.provisioning} + site create & first deploy ${breakdown.site_create_and_first_deploy}`,
  );
  log(`  CPU meanwhile: ${cpuReport(cpu0, cpuSnapshot()).text}`);
  report.record({ time_to_first_deploy_s: round(total / 1000, 1), time_to_first_deploy_breakdown_s: breakdown });

  // ---- deploy overhead: BrokeForge vs the same milestones raw, alternated ----
  const facts = await loadServerFacts(serverId, e.db);
  if (!facts) throw new Error("the server has no facts");
  const bf: Array<{ clickToSuccess: number; operation: number; deploymentId: string }> = [];
  const raw: Array<{ ms: number; milestones: Record<string, number> }> = [];
  const bfDeploy = async () => {
    const click = Date.now();
    const { deploymentId } = await e.api.sites.deploy({ id: site.id });
    const d = await waitFor("a deploy's success", DEPLOY_MS, async () => {
      const row = await e.db.deployment.findUnique({ where: { id: deploymentId } });
      if (row?.status === "failed") throw new Error(`a BrokeForge deploy failed: ${(row.errorLog ?? "").slice(0, 300)}`);
      return row?.status === "success" ? row : null;
    });
    const observed = Date.now();
    const op = await e.db.operation.findFirstOrThrow({
      where: { resourceType: "deployment", resourceId: d.id, action: "install" },
      orderBy: { createdAt: "desc" },
    });
    if (!op.startedAt || !op.finishedAt) throw new Error("the deploy's operation has no start or finish time");
    bf.push({ clickToSuccess: observed - click, operation: op.finishedAt.getTime() - op.startedAt.getTime(), deploymentId: d.id });
  };
  const rawDeploy = async (n: number) => {
    const siteRow = await e.db.site.findUniqueOrThrow({ where: { id: site.id } });
    const siblings = await e.db.deployment.findMany({ where: { serverId, siteId: site.id }, orderBy: { createdAt: "desc" } });
    // A fresh release the database never hears of: "-5x" keeps it apart from BrokeForge's names.
    const release = releaseName(new Date(), 50 + n);
    const row = {
      id: `raw-${n}`,
      siteId: site.id,
      domain: DOMAIN,
      release,
      releasePath: `${DEPLOYMENTS_HOME}/${DOMAIN}/${release}`,
      branch: siteRow.branch,
      commitSha: null,
      status: "pending" as const,
    };
    const plan = deployPlan(row, { server: facts, parent: siteRow, siblings: [{ ...row, createdAt: new Date() }, ...siblings] });
    const milestones: Record<string, number> = {};
    const start = Date.now();
    for (const m of plan) {
      const rendered = script(m.steps);
      const mt = Date.now();
      const r = await server.exec(rendered.command, { timeoutMs: Math.max(1000, Math.min(DEPLOY_MS, phaseEnd - Date.now())) });
      milestones[m.name] = Date.now() - mt;
      const parsed = rendered.parse(r.stdout, r.stderr);
      const bad = parsed.failed ?? parsed.incomplete;
      if (r.exitCode !== 0 || bad)
        throw new Error(
          `raw milestone ${m.name} failed at "${bad?.label}" (exit ${bad?.exitCode ?? r.exitCode}): ${(bad?.stderr ?? r.stderr).slice(-300)}`,
        );
    }
    raw.push({ ms: Date.now() - start, milestones });
  };
  const deployFigures = () => {
    const rawP50 = median(raw.map((r) => r.ms));
    const opP50 = median(bf.map((b) => b.operation));
    const clickP50 = median(bf.map((b) => b.clickToSuccess));
    report.record({
      deploy_overhead_ratio: { operation: round(opP50 / rawP50, 2), click_to_success: round(clickP50 / rawP50, 2) },
      deploy_ms: {
        brokeforge_operation_p50: opP50,
        brokeforge_click_to_success_p50: clickP50,
        raw_p50: rawP50,
        runs: { brokeforge: bf.map(({ deploymentId: _id, ...b }) => b), raw: raw.map((r) => r.ms) },
      },
    });
    return { rawP50, opP50, clickP50 };
  };
  const cpu1 = cpuSnapshot();
  try {
    for (let i = 0; i < DEPLOY_PAIRS; i++) {
      if (phaseEnd - Date.now() < 2 * 60_000) throw new Error(`the phase's 20 min ran short after ${i} pair(s)`);
      await bfDeploy();
      if (!(await serves("1"))) throw new Error("after a BrokeForge deploy the site does not answer release=1");
      await rawDeploy(i + 1);
      if (!(await serves("1"))) throw new Error("after a raw deploy the site does not answer release=1");
      log(
        `  pair ${i + 1}: brokeforge click→success ${bf[i]!.clickToSuccess} ms (operation ${bf[i]!.operation} ms); raw ${raw[i]!.ms} ms (${Object.entries(
          raw[i]!.milestones,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")})`,
      );
    }
  } catch (err) {
    log(`  deploy rounds stopped: ${firstLine(err)}`);
    if (!bf.length || !raw.length) unmeasured(["deploy_overhead_ratio"], `no complete BF/raw pair: ${firstLine(err)}`);
    else deployFigures();
    if (bf.length < 2) return unmeasured(["rollback_ms"], "fewer than two BrokeForge releases to roll between");
  }
  if (bf.length && raw.length) {
    const { rawP50, opP50, clickP50 } = deployFigures();
    log(
      `  deploy medians (n=${bf.length}/${raw.length}): brokeforge operation ${opP50} ms, click→success ${clickP50} ms; raw ${rawP50} ms → ` +
        `deploy_overhead_ratio operation ${round(opP50 / rawP50, 2)}, click→success ${round(clickP50 / rawP50, 2)}`,
    );
    log(`  CPU meanwhile: ${cpuReport(cpu1, cpuSnapshot()).text}`);
  }

  // ---- rollback: between the last two BrokeForge releases ----
  const clicks: number[] = [];
  const onServer: number[] = [];
  const operations: number[] = [];
  try {
    const [older, newer] = bf.slice(-2).map((b) => b.deploymentId) as [string, string];
    for (let i = 0; i < ROLLBACKS; i++) {
      if (phaseEnd - Date.now() < 30_000) throw new Error(`the phase's 20 min ran short after ${i} rollback(s)`);
      const target = i % 2 === 0 ? older : newer;
      const click = Date.now();
      const { operationId } = await e.api.deployments.rollback({ id: target });
      const op = await waitFor("a rollback's success", ROLLBACK_MS, async () => {
        const o = await e.db.operation.findUnique({ where: { id: operationId }, include: { milestones: true } });
        if (o?.state === "failed" || o?.state === "cancelled")
          throw new Error(`a rollback ${o.state}: ${(o.errorLog ?? "").slice(0, 300)}`);
        return o?.state === "succeeded" ? o : null;
      });
      clicks.push(Date.now() - click);
      const m = op.milestones.find((x) => x.name === "rollback");
      onServer.push(m?.startedAt && m.finishedAt ? m.finishedAt.getTime() - m.startedAt.getTime() : NaN);
      operations.push(op.startedAt && op.finishedAt ? op.finishedAt.getTime() - op.startedAt.getTime() : NaN);
      log(`  rollback ${i + 1}: click→success ${clicks[i]} ms, operation ${operations[i]} ms, milestone on the server ${onServer[i]} ms`);
    }
  } catch (err) {
    log(`  rollbacks stopped: ${firstLine(err)}`);
    if (!clicks.length) return unmeasured(["rollback_ms"], firstLine(err));
  }
  const rb = { click: median(clicks), server: median(onServer), operation: median(operations) };
  log(
    `  rollback_ms ${rb.click} (median of ${clicks.length} clicks → success observed); operation ${rb.operation} ms; ` +
      `server-side milestone ${rb.server} ms (target: under 300 ms of work on the server)`,
  );
  report.record({
    rollback_ms: rb.click,
    rollback_server_ms: rb.server,
    rollback_operation_ms: rb.operation,
    rollback_runs_ms: { click_to_success: clicks, milestone: onServer, operation: operations },
  });
}
