// Status badges: one colour and icon per status; a spinner while something is in progress.
import type { OperationState, TaskStatus } from "../../domain/status";

type Look = { label: string; className: string; icon: string | "spinner" };

const TASK: Record<TaskStatus, Look> = {
  pending: { label: "Pending", className: "bg-slate-100 text-slate-700", icon: "◷" },
  installing: { label: "Installing", className: "bg-blue-100 text-blue-800", icon: "spinner" },
  active: { label: "Active", className: "bg-green-100 text-green-800", icon: "✓" },
  success: { label: "Success", className: "bg-emerald-100 text-emerald-800", icon: "✓" },
  failed: { label: "Failed", className: "bg-red-100 text-red-800", icon: "✕" },
  updating: { label: "Updating", className: "bg-indigo-100 text-indigo-800", icon: "spinner" },
  removing: { label: "Removing", className: "bg-orange-100 text-orange-800", icon: "spinner" },
  paused: { label: "Paused", className: "bg-yellow-100 text-yellow-800", icon: "❚❚" },
};

const OPERATION: Record<OperationState, Look> = {
  queued: { label: "Queued", className: "bg-slate-100 text-slate-700", icon: "◷" },
  running: { label: "Running", className: "bg-blue-100 text-blue-800", icon: "spinner" },
  succeeded: { label: "Succeeded", className: "bg-green-100 text-green-800", icon: "✓" },
  failed: { label: "Failed", className: "bg-red-100 text-red-800", icon: "✕" },
  cancelled: { label: "Cancelled", className: "bg-slate-200 text-slate-700", icon: "⊘" },
};

function Badge({ look, status }: { look: Look; status: string }) {
  return (
    <span
      data-testid="status"
      data-status={status}
      className={`inline-flex items-center gap-1 whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${look.className}`}
    >
      {look.icon === "spinner" ? (
        <span aria-hidden className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" />
      ) : (
        <span aria-hidden>{look.icon}</span>
      )}
      {look.label}
    </span>
  );
}

export const StatusBadge = ({ status }: { status: TaskStatus }) => <Badge look={TASK[status]} status={status} />;
export const OperationBadge = ({ state }: { state: OperationState }) => <Badge look={OPERATION[state]} status={state} />;

/** "Step 3 of 5" with a bar. */
export function Progress({ step, total }: { step: number; total: number }) {
  if (total <= 0) return null;
  const pct = Math.round((Math.min(step, total) / total) * 100);
  return (
    <div className="flex min-w-32 items-center gap-2" data-testid="progress" data-step={step} data-total={total}>
      <div
        className="h-1.5 flex-1 overflow-hidden rounded bg-slate-200"
        role="progressbar"
        aria-valuenow={pct}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-label={`Step ${step} of ${total}`}
      >
        <div className="h-full bg-blue-600 transition-all" style={{ width: `${pct}%` }} />
      </div>
      <span className="whitespace-nowrap text-xs text-slate-500">
        step {step} of {total}
      </span>
    </div>
  );
}
