// A resource kind's list: its rows with status, error and the buttons its definition's
// actions allow in each status. Generic over the catalogue's kinds; a route supplies how a
// row reads (title, detail) and the kind's tRPC procedures.
import { statusesOf, type ResourceKind } from "../../catalogue/kit";
import { ACTIONS, type Action } from "../../domain/resources";
import type { TaskStatus } from "../../domain/status";
import { EmptyState, ResourceRow, type RowActions } from "./resource-row";

type ById = { mutate(input: { id: string }): Promise<unknown> };
/** The kind's router on the tRPC client (e.g. `client.supervisor`): retry plus its actions. */
export type KindProcedures = { retry: ById } & { [A in Action]?: ById };

interface Row {
  id: string;
  status: TaskStatus;
  errorLog: string | null;
}

export function ResourceList<R extends Row>(props: {
  kind: Pick<ResourceKind, "label" | "actions">;
  rows: readonly R[];
  procedures: KindProcedures;
  empty: React.ReactNode;
  testId(row: R): string;
  title(row: R): React.ReactNode;
  detail?(row: R): React.ReactNode;
}) {
  const { kind, procedures } = props;
  if (props.rows.length === 0) return <EmptyState title={`No ${kind.label.many.toLowerCase()}`}>{props.empty}</EmptyState>;
  const actionsOf = (row: R): RowActions => {
    const actions: RowActions = { retry: () => procedures.retry.mutate({ id: row.id }) };
    for (const action of ACTIONS) {
      const procedure = procedures[action];
      if (action !== "install" && kind.actions[action] && procedure) actions[action] = () => procedure.mutate({ id: row.id });
    }
    return actions;
  };
  return (
    <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" aria-label={kind.label.many}>
      {props.rows.map((row) => (
        <ResourceRow
          key={row.id}
          testId={props.testId(row)}
          title={props.title(row)}
          detail={props.detail?.(row)}
          status={row.status}
          errorLog={row.errorLog}
          actions={actionsOf(row)}
          labels={Object.fromEntries(ACTIONS.flatMap((a) => (kind.actions[a] ? [[a, kind.actions[a].label]] : [])))}
          allowed={{ retry: statusesOf(kind, "install").from, ...Object.fromEntries(ACTIONS.map((a) => [a, statusesOf(kind, a).from])) }}
        />
      ))}
    </ul>
  );
}
