// Config templates, Kamal-style: the exact text is the assertion.
import { describe, expect, it } from "vitest";
import { NGINX_CATCH_ALL, nginxConf } from "./nginx-conf";
import { nginxSite } from "./nginx-site";
import { phpFpmPool, phpFpmSocket } from "./php-fpm-pool";

describe("nginxSite", () => {
  const site = {
    domain: "example.com",
    aliases: ["www.example.com", "*.example.org"],
    root: "/home/brokeforge/example.com/public",
    phpSocket: "/run/php/php8.2-fpm-brokeforge.sock",
    acmeChallengeRoot: "/home/brokeforge/.acme/example.com",
  };

  it("serves PHP through the pool's socket with $realpath_root, and ACME challenges for every site", () => {
    expect(nginxSite(site)).toBe(`# Managed by BrokeForge (site example.com): changes here are overwritten.
server {
    listen 80;
    listen [::]:80;
    server_name example.com www.example.com *.example.org;
    root /home/brokeforge/example.com/public;
    index index.php index.html;
    charset utf-8;

    location ^~ /.well-known/acme-challenge/ {
        root /home/brokeforge/.acme/example.com;
        default_type text/plain;
        try_files $uri =404;
    }

    location / {
        try_files $uri $uri/ /index.php?$query_string;
    }

    location ~ \\.php$ {
        try_files $uri =404;
        fastcgi_pass unix:/run/php/php8.2-fpm-brokeforge.sock;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
        fastcgi_param DOCUMENT_ROOT $realpath_root;
        fastcgi_hide_header X-Powered-By;
    }

    location ~ /\\.(?!well-known) {
        deny all;
    }

    access_log /var/log/nginx/example.com-access.log;
    error_log /var/log/nginx/example.com-error.log error;
}
`);
  });

  it("a static site has no PHP location", () => {
    const text = nginxSite({ ...site, aliases: [], phpSocket: null });
    expect(text).toContain("    index index.html;\n");
    expect(text).toContain("        try_files $uri $uri/ =404;\n");
    expect(text).not.toContain("fastcgi");
  });

  it.each([
    ["domain", { domain: "example.com; include /etc/passwd" }],
    ["domain", { domain: "*.example.com" }],
    ["domain", { aliases: ["a b.com"] }],
    ["path", { root: "/home/x/{y}" }],
    ["path", { root: "/home/x/../../etc" }],
    ["path", { phpSocket: "/run/php.sock;" }],
  ])("refuses a bad %s", (what, over) => {
    expect(() => nginxSite({ ...site, ...over })).toThrow(new RegExp(`nginx: bad ${what}`));
  });
});

describe("phpFpmPool", () => {
  it("runs as the site user behind a socket only nginx can open; a reload lets running requests finish", () => {
    expect(phpFpmSocket({ user: "brokeforge", phpVersion: "8.2" })).toBe("/run/php/php8.2-fpm-brokeforge.sock");
    expect(phpFpmPool({ user: "brokeforge", phpVersion: "8.2" }))
      .toBe(`; Managed by BrokeForge (pool brokeforge): changes here are overwritten.
[global]
process_control_timeout = 10s

[brokeforge]
user = brokeforge
group = brokeforge
listen = /run/php/php8.2-fpm-brokeforge.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = dynamic
pm.max_children = 10
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
pm.max_requests = 500
`);
  });

  it.each([[{ user: "root;x" }], [{ phpVersion: "8" }], [{ maxChildren: 0 }]])("refuses %j", (over) => {
    expect(() => phpFpmPool({ user: "brokeforge", phpVersion: "8.2", ...over })).toThrow(/php-fpm: bad/);
  });
});

describe("nginxConf", () => {
  it("hardens the main configuration: no version, gzip, 64m bodies, conf.d and sites-enabled", () => {
    expect(nginxConf()).toBe(`# Managed by BrokeForge: changes here are overwritten.
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
    client_max_body_size 64m;
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
    gzip_types text/plain text/css text/xml text/javascript application/javascript application/json application/ld+json application/manifest+json application/xml application/rss+xml application/atom+xml application/xhtml+xml image/svg+xml image/x-icon font/ttf font/otf application/vnd.ms-fontobject;

    include /etc/nginx/conf.d/*.conf;
    include /etc/nginx/sites-enabled/*;
}
`);
    expect(nginxConf({ clientMaxBodyMb: 512 })).toContain("\n    client_max_body_size 512m;\n");
  });

  it.each([0, 1.5, 20000])("refuses client_max_body_size %s MiB", (clientMaxBodyMb) => {
    expect(() => nginxConf({ clientMaxBodyMb })).toThrow(/nginx: bad client_max_body_size/);
  });

  it("the catch-all closes unknown hosts on 80 and refuses their TLS handshakes on 443", () => {
    expect(NGINX_CATCH_ALL).toBe(`# Managed by BrokeForge: changes here are overwritten.
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
`);
  });
});
