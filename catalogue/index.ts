// The catalogue: every package and every resource kind BrokeForge manages. Adding one is a
// definition file and a line here; the engine, tRPC, the UI and the CLI read these lists.
import type { ResourceKind } from "./kit";
import { serverPackage } from "./resources/package";
import { firewallRule } from "./resources/firewall-rule";
import { scheduledTask } from "./resources/scheduled-task";
import { supervisorProgram } from "./resources/supervisor-program";

export { PACKAGES, packageDefinition } from "./packages";

/** Resource kinds with their own create form and page (tRPC router per kind, generic). */
export const RESOURCE_KINDS = [firewallRule, scheduledTask, supervisorProgram] as const;

/** Everything the engine can run an operation on: the packages themselves and the kinds. */
export const ALL_KINDS = [serverPackage, ...RESOURCE_KINDS] as const;

export function resourceKind(type: string): ResourceKind | undefined {
  // The kinds differ in their row and input types; the engine only uses what they share.
  const kinds: readonly ResourceKind[] = ALL_KINDS;
  return kinds.find((k) => k.type === type);
}

export function resourceKindByEntity(entity: string): ResourceKind | undefined {
  const kinds: readonly ResourceKind[] = ALL_KINDS;
  return kinds.find((k) => k.entity === entity);
}
