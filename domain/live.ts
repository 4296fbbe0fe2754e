// A change event as clients receive it: ids only; the client refetches what it shows.
export interface LiveEvent {
  id: string; // monotonically increasing (commit order), as a string for tracked()
  serverId: string | null;
  /** "stream" marks the first message of a fresh subscription: its id is the resume point. */
  entity:
    | "server"
    | "operation"
    | "operation_milestone"
    | "server_package"
    | "firewall_rule"
    | "scheduled_task"
    | "supervisor_program"
    | "stream";
  entityId: string;
  action: "insert" | "update" | "delete" | "start";
}
