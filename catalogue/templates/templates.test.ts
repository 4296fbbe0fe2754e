// Config templates, Kamal-style: the exact text is the assertion.
import { describe, expect, it } from "vitest";
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
  it("runs as the site user behind a socket only nginx can open", () => {
    expect(phpFpmSocket({ user: "brokeforge", phpVersion: "8.2" })).toBe("/run/php/php8.2-fpm-brokeforge.sock");
    expect(phpFpmPool({ user: "brokeforge", phpVersion: "8.2" }))
      .toBe(`; Managed by BrokeForge (pool brokeforge): changes here are overwritten.
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
