// Composer: Debian's `composer` package. Pure builders.
//
// Debian's composer runs on Debian's `php` (it depends on php-cli, the OS's default PHP
// version: 8.2 on bookworm, 8.4 on trixie), and comes with its libraries as Debian packages,
// so security updates reach it through unattended-upgrades like everything else.
import { apt, dpkg } from "../commands";
import { definePackage, milestone, type Plan } from "../kit";

export function composerInstallPlan(): Plan {
  return [
    milestone("composer_install", "Installing Composer", [apt.update(), ...apt.install(["composer"]), dpkg.version("composer")], {
      records: { type: "composer", name: "composer", versionFrom: "version" },
    }),
  ];
}

/** Purges composer; the php-* libraries it brought stay (other PHP code may use them). */
export function composerRemovePlan(): Plan {
  return [milestone("composer_remove", "Removing Composer", apt.purge(["composer"]), { removes: { type: "composer", name: "composer" } })];
}

export const composer = definePackage({
  type: "composer",
  name: "composer",
  label: "Composer",
  description: "PHP's dependency manager, Debian's package (runs on the OS's default PHP).",
  aptPackages: ["composer"],
  requires: ["php"],
  install: () => composerInstallPlan(),
  remove: () => composerRemovePlan(),
});
