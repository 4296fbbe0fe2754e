// A package is data: an ordered list of milestones, each a list of argv commands. Builders
// are pure functions of the resource row; the engine runs each milestone as one remote
// script over one SSH channel (activities/ssh/shell.ts `script()`), one activity per milestone.

/** One command. Values a user typed go in argv elements, never into shell text. */
export interface Step {
  label: string;
  argv: readonly string[];
}

/** The seed's `persist()`: an inventory row written when the milestone succeeds. */
export interface InventoryRecord {
  type: string; // e.g. "firewall"
  name: string; // e.g. "ufw"
  version?: string;
  /** Take the version from this step's output instead (0-based index in the milestone). */
  versionFromStep?: number;
  configuration?: Record<string, unknown>;
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
  removes?: Pick<InventoryRecord, "type" | "name">;
}

export type Plan = readonly Milestone[];
