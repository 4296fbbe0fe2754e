// The catalogue: every package and every resource kind BrokeForge manages. Adding one is a
// definition file and a line here; the engine, tRPC, the UI and the CLI read these lists.
import type { ResourceKind } from "./kit";
import { serverPackage } from "./resources/package";
import { provisioning } from "./resources/provisioning";
import { firewallRule } from "./resources/firewall-rule";
import { scheduledTask } from "./resources/scheduled-task";
import { supervisorProgram } from "./resources/supervisor-program";
import { site } from "./resources/site";
import { deployment } from "./resources/deployment";
import { siteCommand } from "./resources/site-command";

export { allPackages, PACKAGES, packageDefinition, registerPackage } from "./packages";

/** Resource kinds with their own create form and page (tRPC router per kind, generic). */
export const RESOURCE_KINDS = [firewallRule, scheduledTask, supervisorProgram] as const;

/** Everything the engine can run an operation on: the packages themselves, provisioning (the role's packages as one operation) and the kinds. */
/**
 * Sites, deployments and site commands: kinds of the engine like the others, but with routers
 * and pages of their own (trpc/routers/sites.ts): ownership through the site, a deploy that
 * joins a queued one, removal confirmed by the typed domain, no retry of a deploy.
 */
export const SITE_KINDS = [site, deployment, siteCommand] as const;

export const ALL_KINDS = [serverPackage, provisioning, ...RESOURCE_KINDS, ...SITE_KINDS] as const;

/** The kinds whose tRPC router is generated from the definition (list, create, retry, one mutation per action). */
export function generatedRouterKinds(): readonly ResourceKind[] {
  return allKinds().filter((k) => !(SITE_KINDS as readonly ResourceKind[]).includes(k));
}

/** Kinds added at run time (tests, and code that extends BrokeForge) before the app starts. */
const registered: ResourceKind[] = [];

export function registerResourceKind(kind: ResourceKind): void {
  if (resourceKind(kind.type) || allKinds().some((k) => k.api === kind.api))
    throw new Error(`A resource kind ${kind.type} / ${kind.api} exists already`);
  registered.push(kind);
}

/** Run-time registered kinds, which get routers like the built-in ones (untyped for clients). */
export function registeredKinds(): readonly ResourceKind[] {
  return registered;
}

/** Every kind. They differ in their row and input types; the engine only uses what they share. */
export function allKinds(): readonly ResourceKind[] {
  return [...ALL_KINDS, ...registered];
}

export function resourceKind(type: string): ResourceKind | undefined {
  return allKinds().find((k) => k.type === type);
}
