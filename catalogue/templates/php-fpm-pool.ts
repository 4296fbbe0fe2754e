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

export function phpFpmPool(pool: PhpFpmPool): string {
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(pool.user)) throw new Error(`php-fpm: bad user ${JSON.stringify(pool.user)}`);
  if (!/^\d\.\d$/.test(pool.phpVersion)) throw new Error(`php-fpm: bad PHP version ${JSON.stringify(pool.phpVersion)}`);
  const max = pool.maxChildren ?? 10;
  if (!Number.isInteger(max) || max < 1 || max > 500) throw new Error(`php-fpm: bad max children ${max}`);
  return [
    `; Managed by BrokeForge (pool ${pool.user}): changes here are overwritten.`,
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
