// One resource in a list: its status, error, and the actions its status allows.
import { useState } from "react";
import { ACTION_FROM, type Action } from "../../domain/resources";
import type { TaskStatus } from "../../domain/status";
import { useApiAction } from "../lib/use-api-form";
import { StatusBadge } from "./status";

/** The buttons a row can have: retry (install again) and every other action of the engine. */
export type RowActions = Partial<Record<Exclude<Action, "install"> | "retry", () => Promise<unknown>>>;

const LABELS: Record<keyof RowActions, string> = {
  remove: "Remove",
  retry: "Retry",
  pause: "Pause",
  resume: "Resume",
  restart: "Restart",
  rollback: "Roll back",
  update: "Update",
  prune: "Prune",
};
/** The standard lifecycle's starting statuses; a kind's own come in through `allowed`. */
const ALLOWED: Record<keyof RowActions, readonly TaskStatus[]> = {
  retry: ACTION_FROM.install,
  remove: ACTION_FROM.remove,
  pause: ACTION_FROM.pause,
  resume: ACTION_FROM.resume,
  restart: ACTION_FROM.restart,
  rollback: ACTION_FROM.rollback,
  update: ACTION_FROM.update,
  prune: ACTION_FROM.prune,
};

export function ResourceRow(props: {
  testId: string;
  title: React.ReactNode;
  detail?: React.ReactNode;
  status: TaskStatus;
  errorLog: string | null;
  actions: RowActions;
  /** Button labels from the kind's definition ("Pause"); defaults below. */
  labels?: Partial<Record<keyof RowActions, string>>;
  /** The statuses each button may start from, from the kind's definition; defaults above. */
  allowed?: Partial<Record<keyof RowActions, readonly TaskStatus[]>>;
  /**
   * What removing it takes with it: Remove then opens this inline, above a confirming button,
   * instead of the browser's bare confirm() (which can say one line, not a list).
   */
  confirmRemove?: React.ReactNode;
  /** More about the row, under it (a package's secrets, its deploy key). */
  children?: React.ReactNode;
}) {
  const action = useApiAction();
  const [confirming, setConfirming] = useState(false);
  const buttons = (Object.keys(props.actions) as Array<keyof RowActions>).filter((k) =>
    (props.allowed?.[k] ?? ALLOWED[k]).includes(props.status),
  );
  return (
    <li className="px-4 py-3" data-testid={props.testId} data-status={props.status}>
      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <div className="min-w-0 flex-1">
          <div className="font-medium">{props.title}</div>
          {props.detail ? <div className="break-all text-xs text-slate-500">{props.detail}</div> : null}
        </div>
        <StatusBadge status={props.status} />
        <div className="flex gap-2">
          {buttons.map((k) => (
            <button
              key={k}
              type="button"
              disabled={action.pending}
              onClick={() => {
                if (k === "remove" && props.confirmRemove) return setConfirming(true);
                if (k === "remove" && !confirm("Remove it from the server?")) return;
                void action.run(props.actions[k]!);
              }}
              className={`rounded-md border px-2.5 py-1 text-xs font-medium disabled:opacity-50 ${k === "remove" ? "border-red-300 text-red-700 hover:bg-red-50" : "border-slate-300 text-slate-700 hover:bg-slate-50"}`}
            >
              {props.labels?.[k] ?? LABELS[k]}
            </button>
          ))}
        </div>
      </div>
      {props.children}
      {confirming && buttons.includes("remove") ? (
        <div
          role="group"
          aria-label="Confirm removal"
          data-testid="confirm-remove"
          className="mt-2 space-y-2 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900"
        >
          {props.confirmRemove}
          <div className="flex gap-2">
            <button
              type="button"
              disabled={action.pending}
              onClick={() => {
                setConfirming(false);
                void action.run(props.actions.remove!);
              }}
              className="rounded-md bg-red-700 px-2.5 py-1 text-xs font-medium text-white hover:bg-red-800 disabled:opacity-50"
            >
              Yes, remove
            </button>
            <button
              type="button"
              onClick={() => setConfirming(false)}
              className="rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50"
            >
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {props.status === "failed" && props.errorLog ? (
        <pre className="mt-2 max-h-40 overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800" data-testid="error-log">
          {props.errorLog}
        </pre>
      ) : null}
      {action.error ? (
        <p className="mt-2 text-xs text-red-700" role="alert">
          {action.error}
        </p>
      ) : null}
    </li>
  );
}

export function EmptyState({ title, children }: { title: string; children?: React.ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white p-8 text-center">
      <p className="font-medium">{title}</p>
      {children ? <p className="mt-1 text-sm text-slate-600">{children}</p> : null}
    </div>
  );
}

export type { Action };
