// The package registry: every package BrokeForge can install, one definition file each.
import type { PackageDefinition } from "../kit";
import { base } from "./base";
import { firewall } from "./firewall";
import { nginx } from "./nginx";
import { postgresql } from "./postgresql";
import { redis } from "./redis";
import { mariadb } from "./mariadb";
import { scheduler } from "./scheduler";
import { siteUser } from "./site-user";
import { supervisor } from "./supervisor";
import { php } from "./php";
import { composer } from "./composer";
import { node } from "./node";

export const PACKAGES: readonly PackageDefinition[] = [
  firewall,
  scheduler,
  supervisor,
  mariadb,
  base,
  siteUser,
  nginx,
  postgresql,
  redis,
  php,
  composer,
  node,
];

/** Packages added at run time (tests, and code that extends BrokeForge) before the app starts. */
const registered: PackageDefinition[] = [];

export function registerPackage(definition: PackageDefinition): void {
  if (packageDefinition(definition.type)) throw new Error(`A package of type ${JSON.stringify(definition.type)} exists already`);
  registered.push(definition);
}

export function packageDefinition(type: string): PackageDefinition | undefined {
  return PACKAGES.find((p) => p.type === type) ?? registered.find((p) => p.type === type);
}

/** Every package, for lists shown to users. */
export function allPackages(): readonly PackageDefinition[] {
  return [...PACKAGES, ...registered];
}
