// Small shared UI pieces: labelled fields with their error, buttons, badges.
import type { ConnectionStatus } from "../../domain/status";

export function Field(props: {
  label: string;
  name: string;
  type?: string;
  defaultValue?: string | number;
  error?: string;
  hint?: string;
  autoComplete?: string;
  required?: boolean;
}) {
  const id = `field-${props.name}`;
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {props.label}
      </label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        defaultValue={props.defaultValue}
        autoComplete={props.autoComplete}
        required={props.required}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? `${id}-error` : props.hint ? `${id}-hint` : undefined}
        className={`block w-full rounded-md border px-3 py-2 text-sm shadow-sm focus:outline-none focus:ring-2 ${
          props.error ? "border-red-400 focus:ring-red-200" : "border-slate-300 focus:ring-blue-200"
        }`}
      />
      {props.error ? (
        <p id={`${id}-error`} className="text-sm text-red-600" role="alert">
          {props.error}
        </p>
      ) : props.hint ? (
        <p id={`${id}-hint`} className="text-xs text-slate-500">
          {props.hint}
        </p>
      ) : null}
    </div>
  );
}

export function FormError({ message }: { message?: string | null }) {
  if (!message) return null;
  return (
    <p className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-700" role="alert">
      {message}
    </p>
  );
}

export function Button({
  variant = "primary",
  className = "",
  ...props
}: React.ButtonHTMLAttributes<HTMLButtonElement> & { variant?: "primary" | "secondary" | "danger" }) {
  const styles = {
    primary: "bg-slate-900 text-white hover:bg-slate-700",
    secondary: "border border-slate-300 bg-white text-slate-700 hover:bg-slate-50",
    danger: "border border-red-300 bg-white text-red-700 hover:bg-red-50",
  }[variant];
  return <button {...props} className={`rounded-md px-3 py-2 text-sm font-medium disabled:opacity-50 ${styles} ${className}`} />;
}

const CONNECTION_BADGE: Record<ConnectionStatus, { label: string; className: string; icon: string }> = {
  unknown: { label: "Not tested", className: "bg-slate-100 text-slate-700", icon: "○" },
  connecting: { label: "Connecting", className: "bg-blue-100 text-blue-800", icon: "" },
  connected: { label: "Connected", className: "bg-green-100 text-green-800", icon: "✓" },
  failed: { label: "Failed", className: "bg-red-100 text-red-800", icon: "✕" },
};

export function ConnectionBadge({ status }: { status: ConnectionStatus }) {
  const badge = CONNECTION_BADGE[status];
  return (
    <span
      data-testid="connection-status"
      data-status={status}
      className={`inline-flex items-center gap-1 rounded-full px-2 py-0.5 text-xs font-medium ${badge.className}`}
    >
      {status === "connecting" ? (
        <span aria-hidden className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" />
      ) : (
        <span aria-hidden>{badge.icon}</span>
      )}
      {badge.label}
    </span>
  );
}
