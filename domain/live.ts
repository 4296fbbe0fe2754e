// A change event as clients receive it: ids only; the client refetches what it shows.
export interface LiveEvent {
  id: string; // monotonically increasing (commit order), as a string for tracked()
  serverId: string | null;
  /**
   * The table that changed: "server", "operation", "operation_milestone", or a resource
   * kind's `entity` from the catalogue ("firewall_rule"…). "stream" marks the first message
   * of a fresh subscription: its id is the resume point.
   */
  entity: string;
  entityId: string;
  action: "insert" | "update" | "delete" | "start";
}
