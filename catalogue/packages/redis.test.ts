import { describe, expect, it } from "vitest";
import { quote, script, toShell } from "../../activities/ssh/shell";
import { parseScriptCommand } from "../../tests/fixtures/shell-reader";
import { SH_APT_UPDATE, shAptInstall, shAptPurge } from "../commands/expected.test-helper";
import { ENSURE_LINE, WRITE_FILE_IF_CHANGED } from "../commands/files";
import { RESTART_IF_CHANGED } from "../commands/systemctl";
import { secretNames, type Plan, type PlanContext } from "../kit";
import { CHECK_PASSWORD, redis, redisConf, redisInstallPlan, redisRemovePlan } from "./redis";

const rendered = (plan: Plan) => plan.map((m) => ({ name: m.name, label: m.label, steps: m.steps.map((s) => toShell(s.argv)) }));
const PW = "Rd3_-9aZbQ7wE2rT5yU8iO1pL4sD6fGh";
const ctx = (secrets: Record<string, string> = { "redis.password": PW }): PlanContext => ({
  server: { id: "clsrv1", sshPort: 22, sshUser: "root" },
  secrets,
});
const CONF = `# Managed by BrokeForge: changes here are overwritten. Included by the last line of redis.conf.\nbind 127.0.0.1 -::1\nprotected-mode yes\nrequirepass ${PW}\n`;
const FLAG = "/var/lib/brokeforge/restart-pending/redis-server";

describe("redis package", () => {
  it("is Debian's redis-server, with one generated secret", () => {
    expect(redis.type).toBe("redis");
    expect(redis.aptPackages).toEqual(["redis-server"]);
    expect(secretNames(redis)).toEqual(["redis.password"]);
  });

  it("installs, writes its own file (redis:redis 0640), includes it last, restarts only on change, checks the password, records the version", () => {
    expect(redisConf(PW)).toBe(CONF);
    const plan = redisInstallPlan(ctx());
    expect(rendered(plan)).toEqual([
      { name: "redis_install", label: "Installing Redis", steps: [SH_APT_UPDATE, ...shAptInstall("redis-server")] },
      {
        name: "redis_configure",
        label: "Binding Redis to localhost and setting its password",
        steps: [
          `sh -c ${quote(WRITE_FILE_IF_CHANGED)} sh /etc/redis/brokeforge.conf ${quote(CONF)} 0640 redis:redis ${FLAG}`,
          `sh -c ${quote(ENSURE_LINE)} sh /etc/redis/redis.conf 'include /etc/redis/brokeforge.conf' ${FLAG}`,
          "systemctl enable --now redis-server",
          `sh -c ${quote(RESTART_IF_CHANGED)} sh redis-server ${FLAG}`,
          `sh -c ${quote(CHECK_PASSWORD)} sh ${PW}`,
          "dpkg-query -W '-f=${Version}' redis-server",
        ],
      },
    ]);
    expect(plan[1]!.records).toEqual({
      type: "redis",
      name: "redis-server",
      versionFrom: "version",
      configuration: { bind: "127.0.0.1 -::1" },
    });
  });

  it("checks with the password in redis-cli's environment, not its argv", () => {
    expect(CHECK_PASSWORD).toContain("out=$(REDISCLI_AUTH=$1 redis-cli --no-auth-warning -h 127.0.0.1 ping 2>&1)");
    expect(CHECK_PASSWORD).not.toMatch(/-a /);
  });

  it.each(["pw\nreplicaof evil 6379 x", "pw with space 0123456", "short"])("refuses the secret %j", (value) => {
    expect(() => redisInstallPlan(ctx({ "redis.password": value }))).toThrow(/not 16 or more characters of A-Z a-z 0-9 _ -/);
  });

  it("redisConf refuses a password that would add config directives", () => {
    expect(() => redisConf("a\nslaveof x 1")).toThrow(/redis: refusing a password/);
  });

  it("removes BrokeForge's file and purges redis-server and redis-tools", () => {
    const plan = redisRemovePlan();
    expect(rendered(plan)).toEqual([
      {
        name: "redis_remove",
        label: "Removing Redis",
        steps: ["rm -f -- /etc/redis/brokeforge.conf", ...shAptPurge("redis-server", "redis-tools")],
      },
    ]);
    expect(plan[0]!.removes).toEqual({ type: "redis", name: "redis-server" });
  });

  it("renders as scripts whose steps read back to the same argv", () => {
    for (const m of [...redisInstallPlan(ctx()), ...redisRemovePlan()]) {
      const back = parseScriptCommand(script(m.steps, { nonce: "testnonce1" }).command);
      expect(back?.steps.map((s) => s.argv)).toEqual(m.steps.map((s) => [...s.argv]));
    }
  });
});
