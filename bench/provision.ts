// provision_overhead_ratio: what BrokeForge adds to provisioning a server, against the same
// commands run by hand. Two twin Debian 12 containers (same tree, booted together, both with
// apt through the shared apt-cacher-ng), each added to BrokeForge and connection-tested:
//   brokeforge  servers.create with role "web": the generated key authorized, the connection
//               test, which starts the provisioning operation; timed from the Operation row's
//               startedAt to its finishedAt (the engine's own timestamps; the queue wait before
//               it, printed too, is the connection test's tail);
//   raw         the twin, added WITHOUT a role (its connection test only reads its facts): the
//               same Provisioning input planned with provisioningPlan on the twin's facts (same
//               tree, so the same facts but its own id and SSH port, which ufw must keep open),
//               each milestone rendered by script() as the engine renders it, run in order as
//               root over ONE ssh2 connection (the harness's, already open) — no Temporal, no
//               database, no detached systemd units, no milestone records.
// The sides run at the same time (BENCH_PROVISION_SEQUENTIAL=1: one after the other,
// BrokeForge first): on a machine shared with other work, load changes by the minute, and a
// first sequential run measured mostly that (node_install 272 s vs 142 s while a QEMU VM ran
// next to the BrokeForge side only). Before either is timed the cache is warmed: apt on the raw
// twin downloads the plan's packages (with their dependencies) --download-only into a
// throwaway lists/archives dir, so the twin's own apt state is untouched and neither timed side
// fetches a .deb from Debian. apt-cacher-ng's transfer log shows what each timed window still
// fetched upstream (it is shared: other test servers on this host count too).
// Needs root and the Debian harness; without them the figures are null with the reason.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Plan } from "../catalogue/kit";
import { cpuReport, cpuSnapshot } from "./cpu";
import type { Bench, BenchEngine } from "./harness";
import { sleep } from "./operations";
import { round } from "./stats";
import { addLikeAUser } from "./targets";

type Server = Awaited<ReturnType<typeof import("../tests/debian/harness").bootDebian>>;

const ROLE = "web" as const;
/** One side's bound: role web on an nspawn container takes a few minutes (apt, dpkg). */
const SIDE_TIMEOUT_MS = 15 * 60_000;
/** apt's lists and archives for the warm-up: not the twin's own (deleted afterwards). */
const WARM_DIR = "/tmp/bf-bench-apt-warm";

const firstLine = (err: unknown) => String(err instanceof Error ? err.message : err).split("\n")[0]!;

export async function provisionOverhead(bench: Bench): Promise<void> {
  const { report } = bench;
  const { log } = report;
  report.section(
    `provisioning overhead: role ${ROLE} through BrokeForge vs the same scripts over one SSH connection (twin Debian 12 containers)`,
  );
  const unmeasured = (reason: string) => {
    log(`provision_overhead_ratio: NOT MEASURED — ${reason}`);
    report.record({
      provision_overhead_ratio: null,
      provision_s: { brokeforge: null, raw: null },
      provision_overhead_unmeasured: reason,
    });
  };
  if (process.getuid?.() !== 0) return unmeasured("needs root (the Debian harness: overlay mounts, network namespaces, systemd-nspawn)");

  let harness: typeof import("../tests/debian/harness");
  let servers: Server[];
  const t = Date.now();
  try {
    harness = await import("../tests/debian/harness");
    // Booted together, so both start from the same host state.
    const boots = await Promise.allSettled([harness.bootDebian({ label: "prov-bf" }), harness.bootDebian({ label: "prov-raw" })]);
    const failed = boots.find((b): b is PromiseRejectedResult => b.status === "rejected");
    if (failed) {
      await Promise.all(boots.map((b) => (b.status === "fulfilled" ? b.value.stop() : undefined)));
      throw failed.reason;
    }
    servers = boots.map((b) => (b as PromiseFulfilledResult<Server>).value);
  } catch (err) {
    return unmeasured(`the Debian containers did not boot: ${firstLine(err)}`);
  }
  const [bfServer, rawServer] = servers as [Server, Server];
  log(`  twins ${bfServer.name} (BrokeForge) and ${rawServer.name} (raw) up in ${Date.now() - t} ms, booted concurrently`);
  try {
    await measure(bench, harness.APT_CACHE_DIR, bfServer, rawServer);
  } catch (err) {
    unmeasured(`run failed: ${firstLine(err)}`);
    throw err;
  } finally {
    await Promise.all(servers.map((s) => s.stop().catch((err) => log(`  (stop ${s.name} failed: ${err})`))));
  }
}

async function measure(bench: Bench, aptCacheDir: string, bfServer: Server, rawServer: Server): Promise<void> {
  const { engine: e, report } = bench;
  const { log } = report;
  const { provisioningPlan } = await import("../catalogue/resources/provisioning");
  const { provisioningInputSchema } = await import("../domain/roles");
  const { loadServerFacts } = await import("../core/server-facts");
  const { script } = await import("../activities/ssh/shell");

  // A server image's apt lists are filled (cloud images run apt update on first boot); the test
  // tree ships them empty, and the connection test reads the PHP versions apt offers. Untimed.
  let t = Date.now();
  await Promise.all([bfServer, rawServer].map((s) => s.sh("DEBIAN_FRONTEND=noninteractive apt-get update -qq", { timeoutMs: 300_000 })));
  log(`  apt lists filled on both twins (apt-get update, as a cloud image's first boot does) in ${Date.now() - t} ms, untimed`);

  // The raw twin: added without a role, so its connection test reads its facts and starts nothing.
  const rawId = await addAndTest(e, rawServer, `prov-raw-${ROLE}`);
  const rawFacts = await loadServerFacts(rawId, e.db);
  if (!rawFacts) throw new Error("the raw twin has no facts");
  // The input servers.create gets below, through the same schema it applies.
  const input = { role: ROLE };
  const rawRow = provisioningInputSchema.parse(input);
  const plan = provisioningPlan(rawRow, { server: rawFacts });
  const packages = aptPackagesOf(plan);
  log(`  plan (${plan.length} milestones): ${plan.map((m) => m.name).join(", ")}`);

  // Warm the cache with everything the plan installs, without changing the twin's own apt state.
  t = Date.now();
  const warm = await rawServer.exec(warmUpScript(packages), { timeoutMs: SIDE_TIMEOUT_MS });
  if (warm.exitCode !== 0) throw new Error(`cache warm-up failed (exit ${warm.exitCode}): ${warm.stderr.slice(-2000)}`);
  const warmFetched = upstreamFetches(aptCacheDir, t, Date.now());
  log(
    `  cache warm-up: apt --download-only of ${packages.length} packages + dependencies into ${WARM_DIR} on the raw twin (then deleted) ` +
      `in ${Date.now() - t} ms; fetched from Debian meanwhile: ${warmFetched.files} files, ${kib(warmFetched.bytes)}`,
  );

  // BrokeForge: the user's path with the role; the connection test starts the provisioning.
  t = Date.now();
  const bfId = await addAndTest(e, bfServer, `prov-bf-${ROLE}`, input);
  const connectedAt = Date.now();
  const row = await e.db.provisioning.findUniqueOrThrow({ where: { serverId: bfId } });
  if (row.role !== rawRow.role || row.phpVersion !== rawRow.phpVersion || row.database !== rawRow.database)
    throw new Error(`the raw side planned ${JSON.stringify(rawRow)}, BrokeForge stored ${JSON.stringify(row)}`);
  log(`  brokeforge: create + authorize + connection test ${connectedAt - t} ms; the provisioning operation is queued`);

  // Raw: the same milestones as one script each, in order, over the harness's one connection.
  const rawMilestones: Array<{ name: string; ms: number }> = [];
  const rawSide = async () => {
    const start = Date.now();
    for (const m of plan) {
      const rendered = script(m.steps);
      const mt = Date.now();
      const r = await rawServer.exec(rendered.command, { timeoutMs: SIDE_TIMEOUT_MS });
      rawMilestones.push({ name: m.name, ms: Date.now() - mt });
      const parsed = rendered.parse(r.stdout, r.stderr);
      const bad = parsed.failed ?? parsed.incomplete;
      if (r.exitCode !== 0 || bad)
        throw new Error(
          `raw milestone ${m.name} failed at "${bad?.label}" (exit ${bad?.exitCode ?? r.exitCode}): ${(bad?.stderr ?? r.stderr).slice(-500)}`,
        );
    }
    return { start, end: Date.now() };
  };

  // Together (default): the machine is shared with other work whose load changes by the minute,
  // so the sides run at the same time and see the same load (each also slows the other, alike).
  // BENCH_PROVISION_SEQUENTIAL=1: BrokeForge's run first, then the raw one.
  const sequential = process.env.BENCH_PROVISION_SEQUENTIAL === "1";
  log(`  the two sides run ${sequential ? "one after the other (BrokeForge first)" : "at the same time"}`);
  const cpu0 = cpuSnapshot();
  const [op, raw] = sequential
    ? await (async () => {
        const o = await provisioningOperation(e, row.id, SIDE_TIMEOUT_MS);
        return [o, await rawSide()] as const;
      })()
    : await Promise.all([provisioningOperation(e, row.id, SIDE_TIMEOUT_MS), rawSide()]);
  log(`  CPU meanwhile: ${cpuReport(cpu0, cpuSnapshot()).text} (the containers count as this process's children)`);
  if (op.state !== "succeeded" || !op.startedAt || !op.finishedAt)
    throw new Error(
      `BrokeForge's provisioning ended ${op.state} at ${op.milestones.find((m) => m.state !== "succeeded")?.name ?? "?"}: ${(op.errorLog ?? "").slice(0, 500)}`,
    );
  const status = (await e.db.provisioning.findUniqueOrThrow({ where: { id: row.id } })).status;
  if (status !== "active") throw new Error(`the provisioning's operation succeeded but the provisioning is ${status}`);
  const bfMs = op.finishedAt.getTime() - op.startedAt.getTime();
  const bfFetched = upstreamFetches(aptCacheDir, op.createdAt.getTime(), op.finishedAt.getTime());
  log(
    `  brokeforge: operation queued → started ${op.startedAt.getTime() - op.createdAt.getTime()} ms; started → finished ${bfMs} ms ` +
      `(${op.milestones.length} milestones, ${op.milestones.reduce((n, m) => n + m.attempts, 0)} attempts); ` +
      `fetched from Debian meanwhile: ${bfFetched.files} files, ${kib(bfFetched.bytes)}`,
  );
  const rawMs = raw.end - raw.start;
  const rawFetched = upstreamFetches(aptCacheDir, raw.start, raw.end);
  log(
    `  raw: ${plan.length} scripts over one ssh2 connection in ${rawMs} ms; fetched from Debian meanwhile: ${rawFetched.files} files, ${kib(rawFetched.bytes)}`,
  );

  // Side by side, per milestone: where the difference is.
  log("");
  log(`  ${"milestone (s)".padEnd(26)} ${"brokeforge".padStart(10)} ${"raw".padStart(8)} ${"diff".padStart(8)}`);
  const bfByName = new Map(
    op.milestones.map((m) => [m.name, m.finishedAt && m.startedAt ? m.finishedAt.getTime() - m.startedAt.getTime() : NaN]),
  );
  for (const r of rawMilestones) {
    const b = bfByName.get(r.name) ?? NaN;
    log(`  ${r.name.padEnd(26)} ${secs(b).padStart(10)} ${secs(r.ms).padStart(8)} ${secs(b - r.ms).padStart(8)}`);
  }
  const bfInMilestones = [...bfByName.values()].reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  log(
    `  ${"sum of milestones".padEnd(26)} ${secs(bfInMilestones).padStart(10)} ${secs(rawMilestones.reduce((a, r) => a + r.ms, 0)).padStart(8)}`,
  );
  log(`  ${"between milestones (engine)".padEnd(26)} ${secs(bfMs - bfInMilestones).padStart(10)}`);
  const ratio = round(bfMs / rawMs, 2);
  log("");
  log(
    `  provision_s: brokeforge ${secs(bfMs)} s, raw ${secs(rawMs)} s → provision_overhead_ratio ${ratio} (BrokeForge ÷ raw; target ≤ 1.3)`,
  );
  report.record({
    provision_overhead_ratio: ratio,
    provision_s: { brokeforge: round(bfMs / 1000, 1), raw: round(rawMs / 1000, 1) },
    provision_milestones_s: Object.fromEntries(
      rawMilestones.map((r) => [r.name, { brokeforge: round((bfByName.get(r.name) ?? NaN) / 1000, 1), raw: round(r.ms / 1000, 1) }]),
    ),
    provision_debian_fetches: { warmup: warmFetched, brokeforge: bfFetched, raw: rawFetched },
    provision_sides: sequential ? "sequential" : "concurrent",
  });
}

/** servers.create (with a role, or without), the root key authorized, the connection test passed. */
function addAndTest(e: BenchEngine, server: Server, name: string, provisioning?: { role: typeof ROLE }): Promise<string> {
  return addLikeAUser(e, name, server.sshPort, (publicKey) => server.authorize(publicKey), provisioning);
}

async function provisioningOperation(e: BenchEngine, provisioningId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const op = await e.db.operation.findFirst({
      where: { resourceType: "provisioning", resourceId: provisioningId },
      orderBy: { createdAt: "desc" },
      include: { milestones: { orderBy: { step: "asc" } } },
    });
    if (op && (op.state === "succeeded" || op.state === "failed" || op.state === "cancelled")) return op;
    if (Date.now() > deadline) throw new Error(`BrokeForge's provisioning did not end in ${timeoutMs} ms (${op?.state ?? "no operation"})`);
    await sleep(500);
  }
}

/** Every package an `apt-get … install -y <packages>` step of the plan names. */
export function aptPackagesOf(plan: Plan): string[] {
  const names = new Set<string>();
  for (const m of plan)
    for (const s of m.steps) {
      const i = s.argv.indexOf("install");
      if (s.argv.includes("apt-get") && i >= 0) for (const p of s.argv.slice(i + 1)) if (!p.startsWith("-")) names.add(p);
    }
  return [...names];
}

/**
 * apt in the twin with its own lists and archives dirs (and no binary cache): downloads the
 * packages and every dependency through the proxy the harness configured, then deletes it all.
 */
export function warmUpScript(packages: string[]): string {
  for (const p of packages) if (!/^[a-z0-9][a-z0-9+.-]*$/.test(p)) throw new Error(`bad package name ${p}`);
  const apt = [
    "env DEBIAN_FRONTEND=noninteractive apt-get -q",
    `-o Dir::State::Lists=${WARM_DIR}/lists -o Dir::Cache::Archives=${WARM_DIR}/archives`,
    "-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=",
  ].join(" ");
  return [
    "set -e",
    `rm -rf ${WARM_DIR}; mkdir -p ${WARM_DIR}/lists/partial ${WARM_DIR}/archives/partial`,
    `${apt} update >/dev/null`,
    `${apt} install -y --download-only ${packages.join(" ")} >/dev/null`,
    `rm -rf ${WARM_DIR}`,
  ].join("\n");
}

/**
 * What apt-cacher-ng fetched from Debian between two times: its transfer log's "I" lines
 * ("<epoch s>|I|<bytes>|<client>|<path>"; "O" is what it served). Seconds granularity, and
 * shared by every test server on this host.
 */
function upstreamFetches(aptCacheDir: string, fromMs: number, toMs: number): { files: number; bytes: number } {
  let text: string;
  try {
    text = readFileSync(path.join(aptCacheDir, "log/apt-cacher.log"), "utf8");
  } catch {
    return { files: NaN, bytes: NaN };
  }
  let files = 0;
  let bytes = 0;
  for (const line of text.split("\n")) {
    const [at, kind, size] = line.split("|");
    const s = Number(at);
    if (kind === "I" && s >= Math.floor(fromMs / 1000) && s <= Math.ceil(toMs / 1000)) {
      files++;
      bytes += Number(size) || 0;
    }
  }
  return { files, bytes };
}

const secs = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "—");
const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
