// The package kit. Everything BrokeForge can put on a server is described here as data:
//  - a *package* (ufw, cron, supervisor, next nginx, PHP, databases…) is one `definePackage`
//    file in catalogue/packages/;
//  - a *resource kind* (firewall rules, scheduled tasks, supervisor programs, next sites,
//    deployments, databases, certificates…) is one `defineResource` file in
//    catalogue/resources/.
// A definition says what the thing is called, what input it takes (a zod schema shared with
// the browser form), what it needs first, and, per action, the *plan*: an ordered list of
// milestones, each a list of argv commands built by pure functions of the row. The engine
// (activities/, workflows/), the tRPC routers, the UI and the ops CLI read these objects and
// nothing else; none of them names a package.
//
// No server imports in catalogue/: the browser bundles it too (labels, schemas, actions).
import type { z } from "zod";
import { standardStatuses, type Action, type ActionStatuses } from "../domain/resources";

/** One command. Values a user typed go in argv elements, never into shell text. */
export interface Step {
  label: string;
  argv: readonly string[];
  /**
   * Names this step's standard output (trimmed), so a milestone's `records` can refer to
   * it: e.g. `dpkg.version("ufw")` is named "version" and the inventory row takes it.
   */
  output?: string;
  /**
   * Kept out of the operation's stored log (OperationOutput): a step that only re-reads what an
   * earlier step already showed live (a site command's output tail, for its row's columns). Its
   * named output and a failure still count as usual.
   */
  quiet?: boolean;
}

/** The seed's `persist()`: an inventory row written when the milestone succeeds. */
export interface InventoryRecord {
  type: string; // the package type, e.g. "firewall"
  name: string; // what is installed, e.g. "ufw"
  /** Which one of a package installed side by side (PHP "8.2"); "" or absent otherwise. */
  variant?: string;
  /** A fixed version… */
  version?: string;
  /** …or the named output of one of the milestone's steps (see `Step.output`). */
  versionFrom?: string;
  configuration?: Record<string, unknown>;
  /** Configuration values taken from named step outputs: `{ deployKey: "deploy_key" }`. */
  configurationFrom?: Record<string, string>;
}

/**
 * Rows of a resource kind that a milestone brings along (provisioning's SSH/HTTP/HTTPS
 * firewall rules): upserted by id, `active`, when the milestone succeeds, so they appear on
 * their page and can be removed like rows the user made. Ids are chosen by the plan (stable,
 * so a re-run finds the same rows and the commands can name them).
 */
export interface BroughtResources {
  /** The kind's `type`, e.g. "firewall_rule". */
  kind: string;
  rows: readonly ({ id: string } & Record<string, unknown>)[];
}

export interface Milestone {
  /** Stable machine name, e.g. "install_ufw" (the seed's milestone constant). */
  name: string;
  /** What the user reads: "Installing ufw". */
  label: string;
  steps: readonly Step[];
  /** Inventory written after this milestone succeeds. */
  records?: InventoryRecord;
  /** Inventory removed after this milestone succeeds (a remover's counterpart of records). */
  removes?: Pick<InventoryRecord, "type" | "name" | "variant">;
  /** Resource rows written (active) after this milestone succeeds. */
  brings?: BroughtResources;
  /**
   * Columns of the operation's own resource row set from named step outputs (see `Step.output`)
   * when this milestone succeeds: a deploy's `{ commitSha: "commit_sha" }`.
   */
  sets?: Readonly<Record<string, string>>;
  /**
   * How many real failures end the operation (default 3, the seed's $maxExceptions). 1 for a
   * step whose failure is the answer, not bad luck: a deploy script, a health check.
   */
  attempts?: number;
}

export type Plan = readonly Milestone[];

/**
 * Something that must hold before the first milestone runs. When it does not, the operation
 * fails at once with `message` (no retries): a missing directory or package is not going to
 * appear by trying again.
 *  - `package`: a BrokeForge package that must be installed (active) on the server — checked
 *    in the database;
 *  - `check`: a command run on the server (one script for all checks) that exits non-zero
 *    when the precondition does not hold.
 */
export type Precondition = { kind: "package"; type: string; message: string } | { kind: "check"; argv: readonly string[]; message: string };

/** The OS as read by the last connection test (os-release). */
export interface OsFacts {
  /** os-release ID: "debian", "ubuntu". */
  id: string;
  /** VERSION_ID: "12", "24.04". */
  release: string;
  /** VERSION_CODENAME: "bookworm". */
  codename: string;
}

/** What plan builders may know about the server besides the row (never credentials). */
export interface ServerFacts {
  id: string;
  sshPort: number;
  sshUser: string;
  /** null until a connection test has read it. */
  os?: OsFacts | null;
  memoryMb?: number | null;
  /** The variants the server's apt offers per package type, newest first: `{ php: ["8.4", "8.2"] }`. */
  variants?: Readonly<Record<string, readonly string[]>>;
  /** The public half of BrokeForge's key for the unprivileged "brokeforge" site user. */
  siteUserPublicKey?: string | null;
}

export interface PlanContext {
  server: ServerFacts;
  /**
   * The server's generated secrets a plan asked for (`PackageDefinition.secrets`), by full
   * name "<package type>.<name>". Only activities fill this in (plans with secrets are built
   * there, never in a workflow), and the runner redacts every value from stored output.
   */
  secrets?: Readonly<Record<string, string>>;
  /** The variant being installed or removed, for a package with `variants`. */
  variant?: string;
  /** The row's parent (a deployment's site), for a kind with `related.parent`; null when it is gone. */
  parent?: Readonly<Record<string, unknown>> | null;
  /** The rows sharing the row's `related.siblings` column (a site's deployments), newest first, the row itself included. */
  siblings?: readonly Readonly<Record<string, unknown>>[];
  /** The rows of another kind that point at this row (a site's deployments), newest first, for a kind with `related.children`. */
  children?: readonly Readonly<Record<string, unknown>>[];
}

/** A secret's value from the plan's context; a clear error when the engine did not load it. */
export function secret(ctx: PlanContext, fullName: string): string {
  const value = ctx.secrets?.[fullName];
  if (!value) throw new Error(`The secret ${fullName} was not loaded for this plan`);
  return value;
}

/** The variant a plan was asked for; a clear error when there is none. */
export function variantOf(ctx: PlanContext, what: string): string {
  if (!ctx.variant) throw new Error(`Say which ${what} to install`);
  return ctx.variant;
}

// --- small constructors, so definitions read like the list of what happens ----------------

export function step(label: string, ...argv: string[]): Step {
  return { label, argv };
}

export function milestone(
  name: string,
  label: string,
  steps: readonly Step[],
  extra: Pick<Milestone, "records" | "removes" | "brings" | "sets" | "attempts"> = {},
): Milestone {
  return { name, label, steps, ...extra };
}

export const requirePackage = (type: string, message: string): Precondition => ({ kind: "package", type, message });
export const requireCheck = (message: string, ...argv: string[]): Precondition => ({ kind: "check", argv, message });

// --- packages ------------------------------------------------------------------------------

export interface PackageDefinition {
  /** The inventory key, one per server: "firewall". */
  type: string;
  /** What is installed: "ufw". */
  name: string;
  /** Shown in the UI: "Firewall". */
  label: string;
  description: string;
  /** Debian packages whose candidate version the OS offers (shown before installing). */
  aptPackages: readonly string[];
  /** Packages that must be installed first (their `type`s). */
  requires: readonly string[];
  /**
   * Secrets this package's plans use, by short name ("root_password"): generated (random,
   * stored encrypted per server as "<type>.<name>") the first time a plan needs them, and
   * shown to the server's owner only on an explicit reveal.
   */
  secrets?: readonly string[];
  /**
   * A package installed side by side in several variants (PHP 8.2 and 8.4): each variant is
   * its own inventory row; plans get `ctx.variant`.
   */
  variants?: PackageVariants;
  install(ctx: PlanContext): Plan;
  remove(ctx: PlanContext): Plan;
}

export interface PackageVariants {
  /** What a variant is in words: "version". */
  label: string;
  /**
   * A regular expression over the names of the packages the server's apt knows, with one
   * capture group: the variant ("^php(\\d+\\.\\d+)-fpm$"). The connection test lists them
   * into `ServerFacts.variants[type]`.
   */
  aptPattern: string;
  /** The inventory row's name for a variant: "php8.2". */
  name(variant: string): string;
}

/** Full secret names ("redis.password") of a package. */
export function secretNames(p: Pick<PackageDefinition, "type" | "secrets">): string[] {
  return (p.secrets ?? []).map((s) => `${p.type}.${s}`);
}

export function definePackage<const P extends PackageDefinition>(definition: P): P {
  return definition;
}

// --- resource kinds ------------------------------------------------------------------------

/** The columns the engine relies on in every resource table. */
export interface ResourceRowBase {
  id: string;
  serverId: string;
  status: string;
  errorLog: string | null;
}

export interface ActionDefinition<Row> {
  /** The verb as shown on a button and in an operation's title: "Pause". */
  label: string;
  /** Where this action differs from the standard lifecycle (domain/resources.ts). */
  statuses?: Partial<ActionStatuses>;
  plan(row: Row, ctx: PlanContext): Plan;
  /** Checked before the first milestone; see Precondition. */
  requires?(row: Row, ctx: PlanContext): readonly Precondition[];
  /**
   * A retry continues where the failed run stopped: the leading milestones that succeeded in
   * the last failed run of this action (same names, same order) are not run again. For long
   * plans of idempotent milestones (provisioning: minutes of apt work before the failure).
   */
  resumable?: boolean;
  /**
   * The operation may run this many times OPERATION_TIMEOUT_SECONDS (default 1): for actions
   * that are many packages' apt work in one operation (provisioning).
   */
  timeoutScale?: number;
  /** The operation's title when "<label> <kind> <describe>" reads badly ("Provision provisioning …"). */
  title?(row: Row): string;
  /**
   * Run when the operation fails or is cancelled after it began, before the row is marked: undo
   * what a half-done run left on the server (a failed deploy's release directory). Best effort:
   * its own failure is logged, and the operation's error is what the user reads.
   */
  cleanup?(row: Row, ctx: PlanContext): Plan;
  /**
   * Other rows the outcome changes, written in the same transaction as the row's final status
   * (a deploy makes itself the site's active deployment). Data, not code with a database: the
   * engine applies each update to the kind whose table it names.
   */
  effects?(outcome: Outcome<Row>, ctx: PlanContext): readonly RowUpdate[];
}

/** How an operation ended, for `ActionDefinition.effects`. */
export interface Outcome<Row> {
  /** The row as it is at the end (after milestones' `sets`). */
  row: Row;
  result: "succeeded" | "failed";
  /** The error the user reads, on failure. */
  error?: string;
  /** When the operation began running, and now. */
  startedAt: Date | null;
  at: Date;
  /**
   * The milestones this operation ran, in order, as they ended: which one failed (a deploy's
   * health check means "rolled back"), a step's exit code (a site command's), their times.
   */
  milestones?: readonly MilestoneOutcome[];
}

/** One milestone of an operation as it ended (OperationMilestone's columns). */
export interface MilestoneOutcome {
  name: string;
  /** "succeeded" | "failed" | "skipped" | "running" (a cancelled run). */
  state: string;
  /** The milestone's script's exit code: the failed step's, or 0. */
  exitCode: number | null;
  startedAt: Date;
  finishedAt: Date | null;
}

/** An update of one row of a resource kind's table, by id. */
export interface RowUpdate {
  /** The kind's Prisma model (`ResourceKind.table`): "site". */
  table: string;
  id: string;
  data: Readonly<Record<string, unknown>>;
}

/** Every kind can be installed (create, retry) and removed; the rest is optional. */
export type ResourceActions<Row, A extends Action> = { install: ActionDefinition<Row>; remove: ActionDefinition<Row> } & {
  [K in A]: ActionDefinition<Row>;
};

/** A column of a kind: shown in lists and the CLI's `ls`, and (unless `input: false`) a CLI flag. */
export interface FieldDefinition<Key extends string = string> {
  /** A column of the kind's row. */
  key: Key;
  /** Column header: "PORT". */
  label: string;
  /** The CLI flag when it isn't the key: `--from` for `source`. */
  flag?: string;
  /** How the CLI turns the flag's text into the input value (default: the text). */
  type?: "string" | "number" | "boolean";
  /** Shown but not typed by the user (e.g. a package's installed version). */
  input?: false;
}

export interface ResourceDefinition<Row extends ResourceRowBase, S extends z.ZodType, A extends Action, Api extends string> {
  /** Stored in Operation.resourceType and used in operation kinds: "firewall_rule". */
  type: string;
  /** The Prisma model's client property: "firewallRule". */
  table: string;
  /** The change-event entity (the table's name in the triggers): "firewall_rule". */
  entity: string;
  /** The tRPC router key, UI path segment and CLI command: "firewall". */
  api: Api;
  /** The package that must be installed for this kind (its `type`), or "" for none. */
  parent: string;
  label: { one: string; many: string };
  /** The create form's input, shared by the browser form, tRPC and the CLI. */
  input: S;
  fields: readonly FieldDefinition<keyof Row & string>[];
  /**
   * The new row's columns from valid input (status and serverId are added by the engine).
   * Throws `FieldError` for what only the server can check (e.g. the SSH port).
   */
  create(input: z.output<S>, ctx: PlanContext): Record<string, unknown>;
  /** Shown when the table's unique constraint refuses a new row. */
  duplicateMessage?(input: z.output<S>): string;
  /**
   * Where the server keeps one thing for what BrokeForge would keep as two (ufw: one rule per
   * port, protocol and source), the existing rows that new input would collide with: creating
   * it is refused with `message` on `field`, so two rows never claim one thing on the server.
   */
  sameAs?(input: z.output<S>): SameAs;
  /** The row's own words in an operation title: `“web” (443/tcp)`. */
  describe(row: Row): string;
  actions: ResourceActions<Row, A>;
  /** Full names of the server secrets the row's plans use (see `PackageDefinition.secrets`). */
  secrets?(row: Row): readonly string[];
  /** Rows the plans read besides the row itself: `PlanContext.parent` and `.siblings`. */
  related?: RelatedRows;
}

/** Which other rows a kind's plans are given (loaded by the engine from the row's columns). */
export interface RelatedRows {
  /** The parent: `table`'s row whose id is in the row's column `key` (a deployment's `siteId`). */
  parent?: { table: string; key: string };
  /** Rows of the kind's own table with the same value in column `key`, newest first (a site's deployments). */
  siblings?: { key: string };
  /** Rows of `table` whose column `key` holds this row's id, newest first (a site's deployments, by `siteId`). */
  children?: { table: string; key: string };
}

export interface SameAs {
  where: Record<string, unknown>;
  field: string;
  message: string;
}

/** A validation problem on one input field that only the server can check. */
export class FieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A resource kind as the engine, the routers and the UI see it: the same object, with the
 * row and input types erased to what every kind shares.
 */
export interface ResourceKind {
  type: string;
  table: string;
  entity: string;
  api: string;
  parent: string;
  label: { one: string; many: string };
  input: z.ZodType;
  fields: readonly FieldDefinition[];
  create(input: unknown, ctx: PlanContext): Record<string, unknown>;
  duplicateMessage?(input: unknown): string;
  sameAs?(input: unknown): SameAs;
  describe(row: ResourceRowBase): string;
  actions: { install: ActionDefinition<ResourceRowBase>; remove: ActionDefinition<ResourceRowBase> } & {
    [K in Action]?: ActionDefinition<ResourceRowBase>;
  };
  secrets?(row: ResourceRowBase): readonly string[];
  related?: RelatedRows;
}

/** `defineResource<Row>()({...})`: the row type is given; input, actions and api are inferred. */
export function defineResource<Row extends ResourceRowBase>() {
  return <S extends z.ZodType, Api extends string, A extends Action = "install" | "remove">(
    definition: ResourceDefinition<Row, S, A, Api>,
  ) => definition;
}

/** The statuses `action` moves a resource of `kind` through: the standard ones, as the kind overrides them. */
export function statusesOf(kind: Pick<ResourceKind, "actions">, action: Action): ActionStatuses {
  return { ...standardStatuses(action), ...kind.actions[action]?.statuses };
}

/** "Install firewall rule “web” (allow 443/tcp)": how an operation reads wherever it is shown. */
export function operationTitle(kind: ResourceKind, action: Action, row: ResourceRowBase): string {
  const definition = kind.actions[action];
  if (definition?.title) return definition.title(row);
  return `${definition?.label ?? action} ${kind.label.one} ${kind.describe(row)}`;
}
