// What still needs a package: the kit's `requires` (Composer needs PHP). Removing a package is
// refused while anything here is on the server, with the list in the message, so a removal never
// pulls the ground from under something BrokeForge manages. Resource kinds whose `parent` the
// package is (firewall rules of ufw) do not block yet: the firewall package brings its own SSH
// rule row, and uninstalling ufw has always taken its rules with it; sites (issue 12) will need
// a variant-aware check here (PHP 8.2 in use by a site).
import { allPackages, packageDefinition } from "../catalogue";
import { db } from "./db";

/** Words for each thing that needs `type` on the server (empty: nothing does). */
export async function dependentsOf(serverId: string, type: string, variant = ""): Promise<string[]> {
  // Another variant of the same package still satisfies `requires` (PHP 8.4 stays for Composer).
  const otherVariants = await db().serverPackage.count({ where: { serverId, type, variant: { not: variant }, status: { not: "failed" } } });
  const out: string[] = [];
  if (otherVariants === 0) {
    const needing = allPackages().filter((p) => p.requires.includes(type));
    if (needing.length) {
      const installed = await db().serverPackage.findMany({
        where: { serverId, type: { in: needing.map((p) => p.type) }, status: { not: "failed" } },
        select: { type: true, name: true },
      });
      out.push(...installed.map((p) => `${packageDefinition(p.type)?.label ?? p.type} (${p.name})`));
    }
  }
  return out;
}
