// The package registry: every package BrokeForge can install, one definition file each.
import type { PackageDefinition } from "../kit";
import { firewall } from "./firewall";
import { scheduler } from "./scheduler";
import { supervisor } from "./supervisor";

export const PACKAGES: readonly PackageDefinition[] = [firewall, scheduler, supervisor];

export function packageDefinition(type: string): PackageDefinition | undefined {
  return PACKAGES.find((p) => p.type === type);
}
