// nginx: the web server, with BrokeForge's hardened nginx.conf and a catch-all default server
// in place of Debian's welcome page. Pure builders; the texts are in catalogue/templates.
//
// Safe to re-run: files whose content is right are left alone (files.writeIfChanged), the
// config is tested before nginx is told about it, and a running nginx is reloaded (same
// master process), never restarted.
import { apt, dpkg, files, systemctl } from "../commands";
import { definePackage, milestone, step, type Plan } from "../kit";
import { NGINX_CATCH_ALL, nginxConf } from "../templates/nginx-conf";

export const NGINX_CONF_PATH = "/etc/nginx/nginx.conf";
export const CATCH_ALL_AVAILABLE = "/etc/nginx/sites-available/000-brokeforge-default";
export const CATCH_ALL_ENABLED = "/etc/nginx/sites-enabled/000-brokeforge-default";
/** Debian's welcome site (a default_server too: two would make nginx -t fail). */
export const DEBIAN_DEFAULT_ENABLED = "/etc/nginx/sites-enabled/default";
export const CLIENT_MAX_BODY_MB = 64;

// $1 target, $2 link. Made only when it is missing or points elsewhere.
export const ENSURE_LINK = '[ "$(readlink -- "$2")" = "$1" ] && { echo "$2 is linked already"; exit 0; }; ln -sfn -- "$1" "$2"';

export function nginxInstallPlan(): Plan {
  return [
    milestone("nginx_install", "Installing nginx", [apt.update(), ...apt.install(["nginx"])]),
    milestone(
      "nginx_configure",
      "Configuring nginx",
      [
        files.writeIfChanged(CATCH_ALL_AVAILABLE, NGINX_CATCH_ALL, { mode: "0644" }),
        step("Enabling the catch-all server", "sh", "-c", ENSURE_LINK, "sh", CATCH_ALL_AVAILABLE, CATCH_ALL_ENABLED),
        files.remove([DEBIAN_DEFAULT_ENABLED], "Disabling Debian's default site"),
        files.writeIfChanged(NGINX_CONF_PATH, nginxConf({ clientMaxBodyMb: CLIENT_MAX_BODY_MB }), { mode: "0644" }),
        step("Testing the configuration", "nginx", "-t"),
        systemctl.enableNow("nginx"),
        systemctl.reload("nginx"),
        dpkg.version("nginx"),
      ],
      { records: { type: "nginx", name: "nginx", versionFrom: "version", configuration: { clientMaxBodySize: `${CLIENT_MAX_BODY_MB}m` } } },
    ),
  ];
}

/** Purges nginx with its configuration; BrokeForge's catch-all files, which dpkg does not own, go first. */
export function nginxRemovePlan(): Plan {
  return [
    milestone(
      "nginx_remove",
      "Removing nginx",
      [
        // First, so that dpkg finds /etc/nginx's directories empty and removes them.
        files.remove([CATCH_ALL_ENABLED, CATCH_ALL_AVAILABLE], "Deleting the catch-all server"),
        ...apt.purge(["nginx", "nginx-common"]),
      ],
      { removes: { type: "nginx", name: "nginx" } },
    ),
  ];
}

export const nginx = definePackage({
  type: "nginx",
  name: "nginx",
  label: "nginx",
  description: "The web server: gzip, no version banner, 64 MB uploads, unknown hosts closed without an answer.",
  aptPackages: ["nginx"],
  requires: [],
  install: () => nginxInstallPlan(),
  remove: () => nginxRemovePlan(),
});
