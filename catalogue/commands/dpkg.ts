// Reading what dpkg installed, for the inventory (the seed's `persist()` version).
import type { Step } from "../kit";

/** Prints the installed version of `pkg`; its output is named `as` (default "version"). */
export function version(pkg: string, as = "version"): Step {
  if (!/^[a-z0-9][a-z0-9+.-]*$/.test(pkg)) throw new Error(`dpkg: bad package name ${JSON.stringify(pkg)}`);
  return { label: `Reading the installed ${pkg} version`, argv: ["dpkg-query", "-W", "-f=${Version}", pkg], output: as };
}
