// nginx's main configuration and the catch-all server: plain text from plain functions
// (exact-string tests in templates.test.ts). Sites add server blocks in sites-enabled.
export interface NginxConf {
  /** The largest request body (uploads), in MiB. */
  clientMaxBodyMb?: number;
}

// Compressible types; text/html is always compressed (listing it makes nginx warn).
const GZIP_TYPES = [
  "text/plain",
  "text/css",
  "text/xml",
  "text/javascript",
  "application/javascript",
  "application/json",
  "application/ld+json",
  "application/manifest+json",
  "application/xml",
  "application/rss+xml",
  "application/atom+xml",
  "application/xhtml+xml",
  "image/svg+xml",
  "image/x-icon",
  "font/ttf",
  "font/otf",
  "application/vnd.ms-fontobject",
];

export function nginxConf(opts: NginxConf = {}): string {
  const body = opts.clientMaxBodyMb ?? 64;
  if (!Number.isInteger(body) || body < 1 || body > 10240) throw new Error(`nginx: bad client_max_body_size ${body}`);
  return `# Managed by BrokeForge: changes here are overwritten.
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
include /etc/nginx/modules-enabled/*.conf;

events {
    worker_connections 1024;
}

http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    # Holds a 253-character name (the longest DNS and BrokeForge allow): it needs 272 bytes, 256 is refused.
    server_names_hash_bucket_size 512;

    # No version in error pages and the Server header.
    server_tokens off;
    client_max_body_size ${body}m;
    keepalive_timeout 65;

    include /etc/nginx/mime.types;
    default_type application/octet-stream;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:SSL:10m;
    ssl_session_timeout 1d;
    ssl_session_tickets off;

    access_log /var/log/nginx/access.log;

    gzip on;
    gzip_vary on;
    gzip_proxied any;
    gzip_comp_level 5;
    gzip_min_length 256;
    gzip_types ${GZIP_TYPES.join(" ")};

    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
`;
}

/**
 * The default server: a request for a host no site serves gets no answer (444 closes the
 * connection), over HTTPS no handshake (no certificate is shown for a name we do not serve).
 */
export const NGINX_CATCH_ALL = `# Managed by BrokeForge: changes here are overwritten.
# Requests for hosts no site serves are closed without an answer.
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    listen 443 ssl default_server;
    listen [::]:443 ssl default_server;
    server_name _;
    ssl_reject_handshake on;
    access_log off;
    return 444;
}
`;
