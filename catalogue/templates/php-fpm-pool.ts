// A php-fpm pool: the sites' PHP runs as the unprivileged site user, behind a socket only
// nginx (www-data) can open. Plain text from a plain function (exact-string tests).
export interface PhpFpmPool {
  /** The pool's name and the user/group it runs as, e.g. "brokeforge". */
  user: string;
  /** PHP version, e.g. "8.2": the socket lives under that version's run dir. */
  phpVersion: string;
  maxChildren?: number;
}

export function phpFpmSocket(pool: Pick<PhpFpmPool, "user" | "phpVersion">): string {
  return `/run/php/php${pool.phpVersion}-fpm-${pool.user}.sock`;
}

/**
 * How long a php-fpm reload lets running requests finish. A deploy reloads php-fpm after the
 * swap; Debian's default (0) makes the reload kill workers mid-request, so a visitor gets a
 * 200 with a cut-off (often empty) page. With a timeout, the reload asks workers to finish
 * their request first (SIGQUIT) and new requests wait in the socket's queue meanwhile.
 */
export const PHP_FPM_RELOAD_GRACE = "10s";

export function phpFpmPool(pool: PhpFpmPool): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(pool.user)) throw new Error(`php-fpm: bad user ${JSON.stringify(pool.user)}`);
  if (!/^\d\.\d$/.test(pool.phpVersion)) throw new Error(`php-fpm: bad PHP version ${JSON.stringify(pool.phpVersion)}`);
  const max = pool.maxChildren ?? 10;
  if (!Number.isInteger(max) || max < 1 || max > 500) throw new Error(`php-fpm: bad max children ${max}`);
  return [
    `; Managed by BrokeForge (pool ${pool.user}): changes here are overwritten.`,
    // php-fpm reads pool.d/*.conf inside its own configuration, where a [global] section
    // sets the master's settings: Debian's php-fpm.conf stays Debian's.
    "[global]",
    `process_control_timeout = ${PHP_FPM_RELOAD_GRACE}`,
    "",
    `[${pool.user}]`,
    `user = ${pool.user}`,
    `group = ${pool.user}`,
    `listen = ${phpFpmSocket(pool)}`,
    "listen.owner = www-data",
    "listen.group = www-data",
    "listen.mode = 0660",
    "pm = dynamic",
    `pm.max_children = ${max}`,
    `pm.start_servers = ${Math.min(2, max)}`,
    "pm.min_spare_servers = 1",
    `pm.max_spare_servers = ${Math.min(3, max)}`,
    "pm.max_requests = 500",
    "",
  ].join("\n");
}
