// Redis: Debian's redis-server on the loopback only, with a generated password. Pure builders.
//
// Debian's /etc/redis/redis.conf (redis:redis 0640) stays Debian's: BrokeForge appends one
// line to it, `include /etc/redis/brokeforge.conf`, and keeps its own settings in that file.
// The include is the LAST line, and in Redis the last occurrence of a directive wins, so ours
// override Debian's defaults. Redis restarts only when either file changed.
//
// The password is in the config file (redis:redis 0640, like Debian's), which is written
// through one `sh -c` step whose argv holds it for that step only; the check hands it to
// redis-cli by environment (REDISCLI_AUTH, readable by root only), never in its argv.
import { apt, dpkg, files, systemctl } from "../commands";
import { definePackage, milestone, step, type PlanContext, type Plan } from "../kit";
import { plainSecret } from "./plain-secret";

export const REDIS_CONF_PATH = "/etc/redis/redis.conf";
export const REDIS_BROKEFORGE_CONF_PATH = "/etc/redis/brokeforge.conf";
export const REDIS_INCLUDE = `include ${REDIS_BROKEFORGE_CONF_PATH}`;

/** BrokeForge's Redis settings. `-::1`: IPv6 loopback when the server has it, skipped otherwise. */
export function redisConf(password: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(password)) throw new Error("redis: refusing a password with characters other than A-Z a-z 0-9 _ -");
  return [
    "# Managed by BrokeForge: changes here are overwritten. Included by the last line of redis.conf.",
    "bind 127.0.0.1 -::1",
    "protected-mode yes",
    `requirepass ${password}`,
    "",
  ].join("\n");
}

// $1 password: PONG with it, or the step fails with what redis-cli said.
export const CHECK_PASSWORD = [
  "out=$(REDISCLI_AUTH=$1 redis-cli --no-auth-warning -h 127.0.0.1 ping 2>&1)",
  '[ "$out" = PONG ] || { echo "redis did not answer PONG with its password: $out" >&2; exit 1; }',
  'echo "redis answers PONG with its password"',
].join("\n");

export function redisInstallPlan(ctx: PlanContext): Plan {
  const password = plainSecret(ctx, "redis.password");
  return [
    milestone("redis_install", "Installing Redis", [apt.update(), ...apt.install(["redis-server"])]),
    milestone(
      "redis_configure",
      "Binding Redis to localhost and setting its password",
      [
        files.writeIfChanged(REDIS_BROKEFORGE_CONF_PATH, redisConf(password), {
          mode: "0640",
          owner: "redis:redis",
          restarts: "redis-server",
          label: "Writing BrokeForge's Redis configuration",
        }),
        files.ensureLine(REDIS_CONF_PATH, REDIS_INCLUDE, { restarts: "redis-server", label: "Including it from redis.conf" }),
        systemctl.enableNow("redis-server"),
        systemctl.restartIfChanged("redis-server"),
        step("Checking the password", "sh", "-c", CHECK_PASSWORD, "sh", password),
        dpkg.version("redis-server"),
      ],
      { records: { type: "redis", name: "redis-server", versionFrom: "version", configuration: { bind: "127.0.0.1 -::1" } } },
    ),
  ];
}

/** Purges redis-server and redis-tools (which the install brought), and BrokeForge's file. */
export function redisRemovePlan(): Plan {
  return [
    milestone(
      "redis_remove",
      "Removing Redis",
      [
        files.remove([REDIS_BROKEFORGE_CONF_PATH], "Deleting BrokeForge's Redis configuration"),
        ...apt.purge(["redis-server", "redis-tools"]),
      ],
      { removes: { type: "redis", name: "redis-server" } },
    ),
  ];
}

export const redis = definePackage({
  type: "redis",
  name: "redis-server",
  label: "Redis",
  description: "Debian's Redis server, listening on localhost only, with a generated password.",
  aptPackages: ["redis-server"],
  requires: [],
  secrets: ["password"],
  install: (ctx) => redisInstallPlan(ctx),
  remove: () => redisRemovePlan(),
});
