// Node.js: Debian's `nodejs` and `npm` (for building a site's assets). Pure builders.
// Debian's versions (18 on bookworm, 20 on trixie) get Debian's security updates through
// unattended-upgrades; a site that needs another Node brings its own (nvm, corepack).
import { apt, dpkg } from "../commands";
import { definePackage, milestone, type Plan } from "../kit";

export function nodeInstallPlan(): Plan {
  return [
    milestone("node_install", "Installing Node.js and npm", [apt.update(), ...apt.install(["nodejs", "npm"]), dpkg.version("nodejs")], {
      records: { type: "node", name: "nodejs", versionFrom: "version" },
    }),
  ];
}

/** Purges nodejs and npm; the node-* libraries npm brought stay. */
export function nodeRemovePlan(): Plan {
  return [
    milestone("node_remove", "Removing Node.js and npm", apt.purge(["nodejs", "npm"]), { removes: { type: "node", name: "nodejs" } }),
  ];
}

export const node = definePackage({
  type: "node",
  name: "nodejs",
  label: "Node.js",
  description: "Node.js and npm, Debian's packages, for building sites' assets.",
  aptPackages: ["nodejs", "npm"],
  requires: [],
  install: () => nodeInstallPlan(),
  remove: () => nodeRemovePlan(),
});
