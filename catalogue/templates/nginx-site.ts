// The nginx server block of a site: plain text from a plain function (exact-string tests in
// nginx-site.test.ts). Values are validated here, because nginx has no quoting we could rely
// on: a `;`, `{`, `}` or space in a name or path would end the directive.
export interface NginxSite {
  /** The site's domain, also the log file names. */
  domain: string;
  aliases?: readonly string[];
  /** The document root through the release symlink, e.g. /home/brokeforge/example.com/public. */
  root: string;
  /** php-fpm's socket, or null for a static site. */
  phpSocket: string | null;
  /** Where HTTP-01 challenge files are served from (for every site, also before HTTPS). */
  acmeChallengeRoot: string;
}

const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const WILDCARD = /^\*\.(?=.{1,251}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/;
const PATH = /^\/[A-Za-z0-9_./-]+$/;

function assertDomain(name: string, allowWildcard: boolean): void {
  if (!DOMAIN.test(name) && !(allowWildcard && WILDCARD.test(name))) throw new Error(`nginx: bad domain ${JSON.stringify(name)}`);
}
function assertPath(path: string): void {
  if (!PATH.test(path) || path.split("/").includes("..")) throw new Error(`nginx: bad path ${JSON.stringify(path)}`);
}

export function nginxSite(site: NginxSite): string {
  assertDomain(site.domain, false);
  for (const alias of site.aliases ?? []) assertDomain(alias, true);
  assertPath(site.root);
  assertPath(site.acmeChallengeRoot);
  if (site.phpSocket !== null) assertPath(site.phpSocket);
  const names = [site.domain, ...(site.aliases ?? [])].join(" ");
  const php =
    site.phpSocket === null
      ? ["    location / {", "        try_files $uri $uri/ =404;", "    }"]
      : [
          "    location / {",
          "        try_files $uri $uri/ /index.php?$query_string;",
          "    }",
          "",
          "    location ~ \\.php$ {",
          "        try_files $uri =404;",
          `        fastcgi_pass unix:${site.phpSocket};`,
          "        include fastcgi_params;",
          // $realpath_root: the resolved release directory, so OPcache follows the symlink swap.
          "        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;",
          "        fastcgi_param DOCUMENT_ROOT $realpath_root;",
          "        fastcgi_hide_header X-Powered-By;",
          "    }",
        ];
  return [
    `# Managed by BrokeForge (site ${site.domain}): changes here are overwritten.`,
    "server {",
    "    listen 80;",
    "    listen [::]:80;",
    `    server_name ${names};`,
    `    root ${site.root};`,
    `    index ${site.phpSocket === null ? "index.html" : "index.php index.html"};`,
    "    charset utf-8;",
    "",
    "    location ^~ /.well-known/acme-challenge/ {",
    `        root ${site.acmeChallengeRoot};`,
    "        default_type text/plain;",
    "        try_files $uri =404;",
    "    }",
    "",
    ...php,
    "",
    "    location ~ /\\.(?!well-known) {",
    "        deny all;",
    "    }",
    "",
    `    access_log /var/log/nginx/${site.domain}-access.log;`,
    `    error_log /var/log/nginx/${site.domain}-error.log error;`,
    "}",
    "",
  ].join("\n");
}
