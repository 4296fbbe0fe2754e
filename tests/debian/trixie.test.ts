// Debian 13 (trixie) test servers, and the apt cache every test server shares (harness/
// apt-cache.ts): two trixie containers boot to a real SSH login, apt installs through the host's
// apt-cacher-ng (its log shows the .debs it served), and "Debian's mirror unreachable" on one
// server makes apt fail there — even for .debs the cache holds — while the other server keeps
// installing; after unblocking, the same install succeeds.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APT_CACHE_DIR, APT_PROXY_CONF, bootDebian, type DebianServer } from "./harness";

let a: DebianServer;
let b: DebianServer;
const timings: Record<string, number> = {};
const APT = "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60";

beforeAll(async () => {
  [a, b] = await Promise.all([bootDebian({ label: "trixie-a", suite: "trixie" }), bootDebian({ label: "trixie-b", suite: "trixie" })]);
  timings.bootA = a.bootMs;
  timings.bootB = b.bootMs;
  await Promise.all([a.sh(`${APT} update -qq`, { timeoutMs: 300_000 }), b.sh(`${APT} update -qq`, { timeoutMs: 300_000 })]);
}, 15 * 60_000);

afterAll(async () => {
  console.log(`[debian trixie] timings (ms): ${JSON.stringify(timings)}`);
  await Promise.all([a?.stop(), b?.stop()]);
});

/** Lines of apt-cacher-ng's transfer log ("<epoch>|O|<bytes>|<client>|<url path>") since `sinceSec`. */
function cacheServed(sinceSec: number): string[] {
  return readFileSync(path.join(APT_CACHE_DIR, "log/apt-cacher.log"), "utf8")
    .split("\n")
    .filter((l) => Number(l.split("|")[0]) >= sinceSec && l.split("|")[1] === "O");
}

const installed = async (s: DebianServer, pkg: string) =>
  (await s.exec(`dpkg-query -W -f='\${Status}' ${pkg}`)).stdout.trim() === "install ok installed";

describe("a Debian 13 (trixie) server", () => {
  it("boots to an SSH login and says it is Debian 13", async () => {
    const osRelease = await a.sh("cat /etc/os-release");
    expect(osRelease).toMatch(/^VERSION_ID="13"$/m);
    expect(osRelease).toMatch(/^VERSION_CODENAME=trixie$/m);
    expect((await a.sh("systemctl is-active ssh.service")).trim()).toBe("active");
    await b.sshTrue();
  });

  it("installs packages through the shared apt cache, which serves the .deb", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    expect(await a.sh(`cat ${APT_PROXY_CONF}`)).toMatch(/^Acquire::http::Proxy "http:\/\/10\.0\.2\.2:\d+\/";$/m);
    const t = Date.now();
    await a.sh(`${APT} install -y -q hello`, { timeoutMs: 300_000 });
    timings.installHello = Date.now() - t;
    expect((await a.sh("hello")).trim()).toBe("Hello, world!");
    expect(cacheServed(since).some((l) => /\/pool\/main\/h\/hello\/hello_[^/|]+_amd64\.deb$/.test(l))).toBe(true);
  });

  it("with the mirror blocked on one server, apt fails there (even for a .deb the cache holds) while the other server installs; unblocked, it succeeds", async () => {
    // hello's .deb is in the cache now (previous test); drop the server's own copy of it.
    await a.sh(`${APT} purge -y -q hello && apt-get clean`);
    await a.blockMirror();
    try {
      const blocked = await a.exec(`${APT} install -y -q hello tree`, { timeoutMs: 300_000 });
      expect(blocked.exitCode).not.toBe(0);
      expect(blocked.stderr).toMatch(/Failed to fetch|Unable to fetch/);
      expect(await installed(a, "tree")).toBe(false);
      expect(await installed(a, "hello")).toBe(false);
      // The other server is not affected.
      await b.sh(`${APT} install -y -q tree`, { timeoutMs: 300_000 });
      expect(await installed(b, "tree")).toBe(true);
    } finally {
      await a.unblockMirror();
    }
    await a.sh(`${APT} install -y -q hello tree`, { timeoutMs: 300_000 });
    expect(await installed(a, "tree")).toBe(true);
    expect((await a.sh("hello")).trim()).toBe("Hello, world!");
  });
});
