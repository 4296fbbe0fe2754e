// Provisioning in the UI: the role picker (add-server form, and "Provision" on a server added
// without one) and the provisioning's live state (overview and dashboard) — step n of N with
// the running milestone's label and a bar, the failed step with its output and Retry, or
// "Provisioned". The data comes from the servers queries, which the live events refetch.
import { useState } from "react";
import type { ProvisioningView } from "../../core/provisioning-view";
import { supportedOs } from "../../domain/os";
import {
  DATABASE_ENGINES,
  DATABASE_LABELS,
  describeProvisioning,
  provisioningInputSchema,
  ROLES,
  SERVER_ROLES,
  type ServerRole,
} from "../../domain/roles";
import type { FieldErrors } from "../../domain/schemas";
import { useTRPCClient } from "../lib/trpc";
import { useApiAction, useApiForm } from "../lib/use-api-form";
import { StatusBadge } from "./status";
import { Button, Field, FormError } from "./ui";

/** Forge's default: an app server (web + database + Redis + workers). */
export const DEFAULT_ROLE: ServerRole = "app";

/** The add-server form's extra choice: connect only, provision later from the overview. */
export const NO_ROLE = "none";
const NONE_INFO = {
  label: "Don't provision now",
  description: "Only connect; choose a role later on the server's page",
  php: false,
  database: false,
};

/** Role, PHP version and database engine; PHP and database only for the roles that have them. */
export function RoleFields(props: {
  defaults?: { role?: string; phpVersion?: string; database?: string };
  errors?: FieldErrors;
  /** Offer "Don't provision now" (the add-server form). */
  allowNone?: boolean;
}) {
  const choices = [...SERVER_ROLES, ...(props.allowNone ? [NO_ROLE] : [])] as const;
  const info = (r: string) => (r === NO_ROLE ? NONE_INFO : ROLES[r as ServerRole]);
  const initial = choices.find((r) => r === props.defaults?.role) ?? DEFAULT_ROLE;
  const [role, setRole] = useState<string>(initial);
  // A server-side error on the nested `provisioning` input (servers.create) is the role's.
  const e: FieldErrors = { ...props.errors, role: props.errors?.role ?? props.errors?.provisioning ?? "" };
  const database = DATABASE_ENGINES.find((d) => d === props.defaults?.database) ?? "mariadb";
  return (
    <div className="space-y-4" data-testid="role-fields">
      <fieldset aria-describedby={e.role ? "field-role-error" : undefined}>
        <legend className="text-sm font-medium text-slate-700">Server role</legend>
        <p className="text-xs text-slate-500">What BrokeForge installs once the connection test passes.</p>
        <div className="mt-2 grid grid-cols-1 gap-2 sm:grid-cols-2">
          {choices.map((r) => (
            <label
              key={r}
              className={`flex cursor-pointer gap-2 rounded-md border p-3 text-sm ${role === r ? "border-slate-900 bg-slate-50" : "border-slate-200"}`}
            >
              <input type="radio" name="role" value={r} checked={role === r} onChange={() => setRole(r)} className="mt-0.5" />
              <span>
                <span className="block font-medium">{info(r).label}</span>
                <span className="block text-xs text-slate-500">{info(r).description}</span>
              </span>
            </label>
          ))}
        </div>
        {e.role ? (
          <p id="field-role-error" className="mt-1 text-sm text-red-600" role="alert">
            {e.role}
          </p>
        ) : null}
      </fieldset>
      {info(role).php ? (
        <Field
          label="PHP version"
          name="phpVersion"
          defaultValue={props.defaults?.phpVersion ?? ""}
          error={e.phpVersion}
          hint="Empty: the newest PHP the server's OS offers (Debian 12: 8.2, Debian 13: 8.4). Or a version like 8.4 — the server's apt decides which exist; one it does not offer is refused before anything is installed."
        />
      ) : null}
      {info(role).database ? (
        <fieldset aria-describedby={e.database ? "field-database-error" : undefined}>
          <legend className="text-sm font-medium text-slate-700">Database</legend>
          <div className="mt-2 space-y-1">
            {DATABASE_ENGINES.map((d) => (
              <label key={d} className="flex items-center gap-2 text-sm">
                <input type="radio" name="database" value={d} defaultChecked={d === database} />
                {DATABASE_LABELS[d]}
              </label>
            ))}
          </div>
          {e.database ? (
            <p id="field-database-error" className="mt-1 text-sm text-red-600" role="alert">
              {e.database}
            </p>
          ) : null}
        </fieldset>
      ) : null}
    </div>
  );
}

type When = Date | string;

/** Dates as they arrive: `Date` through tRPC (superjson), a string through a Remix loader's JSON. */
type Loose<T> = T extends Date ? When : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;

/** servers.byId / servers.list's `provisioning` (core/provisioning-view.ts), dates as Date or JSON. */
export type ProvisioningViewProps = Loose<ProvisioningView>;

interface ServerForProvisioning {
  id: string;
  connectionStatus: string;
  osId: string | null;
  osRelease: string | null;
  osName: string | null;
  provisioning: ProvisioningViewProps | null;
}

/** The overview's section: what the server is provisioned as, and where that is. */
export function ProvisioningPanel({ server }: { server: ServerForProvisioning }) {
  const p = server.provisioning;
  const os = supportedOs(server);
  const connected = server.connectionStatus === "connected";
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="provisioning-heading">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="provisioning-heading" className="font-medium">
          Provisioning
        </h2>
        {p ? <StatusBadge status={p.status} /> : null}
      </div>
      {p ? (
        <div className="mt-3 space-y-3">
          <p className="text-sm" data-testid="provisioning-role">
            {describeProvisioning(p)}
          </p>
          <ProvisioningState provisioning={p} />
          {p.status === "pending" ? (
            <PendingStart provisioningId={p.id} canStart={connected && os.supported} osMessage={os.supported ? null : os.message} />
          ) : null}
        </div>
      ) : !os.supported && server.osId ? (
        <p className="mt-3 rounded bg-amber-50 px-3 py-2 text-sm text-amber-800" data-testid="provisioning-unsupported">
          {os.message} BrokeForge cannot provision it.
        </p>
      ) : connected && os.supported ? (
        <ProvisionForm serverId={server.id} />
      ) : (
        <p className="mt-3 text-sm text-slate-600" data-testid="provisioning-none">
          Not provisioned. Once the connection test passes you can choose a role and provision it.
        </p>
      )}
    </section>
  );
}

/** Where a provisioning is; `compact` for the dashboard's rows. */
export function ProvisioningState({ provisioning: p, compact = false }: { provisioning: ProvisioningViewProps; compact?: boolean }) {
  const op = p.operation;
  const retry = useApiAction();
  const client = useTRPCClient();
  let body: React.ReactNode = null;
  if (p.status === "installing") {
    const started = op && op.state === "running" && op.step > 0 && op.total > 0;
    body = started ? (
      <StepProgress step={op.step} total={op.total} done={op.done} label={op.label} />
    ) : (
      <p className="text-sm text-slate-600" data-testid="provisioning-step">
        Waiting for the server's queue…
      </p>
    );
  } else if (p.status === "failed") {
    const failed = p.failedStep;
    body = (
      <div className="space-y-2">
        <p className="text-sm font-medium text-red-700" data-testid="provisioning-failed">
          {failed ? `Provisioning failed at step ${failed.step}: ${failed.label}` : "Provisioning failed before its first step"}
        </p>
        {p.errorLog ? (
          <pre
            className={`overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800 ${compact ? "max-h-16" : "max-h-60"}`}
            data-testid="provisioning-error"
          >
            {p.errorLog}
          </pre>
        ) : null}
        {!compact && failed?.output ? (
          <details>
            <summary className="cursor-pointer text-xs text-slate-600">Output of step {failed.step}</summary>
            <pre className="mt-1 max-h-80 overflow-auto whitespace-pre-wrap rounded bg-slate-900 p-2 text-xs text-slate-100">
              {failed.output}
            </pre>
          </details>
        ) : null}
        <div className="flex items-center gap-3">
          <Button
            type="button"
            variant="secondary"
            disabled={retry.pending}
            onClick={() => void retry.run(() => client.provisioning.retry.mutate({ id: p.id }))}
          >
            Retry
          </Button>
          <span className="text-xs text-slate-500">Continues from the failed step; finished steps are not redone.</span>
        </div>
      </div>
    );
  } else if (p.status === "active") {
    const when = op?.finishedAt ?? p.updatedAt;
    body = (
      <p className="text-sm text-green-800" data-testid="provisioning-done">
        Provisioned <time dateTime={new Date(when).toISOString()}>{new Date(when).toLocaleString()}</time>
      </p>
    );
  } else if (p.status === "pending") {
    body = compact ? (
      <p className="text-sm text-slate-600" data-testid="provisioning-step">
        Waiting for a successful connection test
      </p>
    ) : null;
  }
  return (
    <div data-testid="provisioning" data-status={p.status} className="space-y-2">
      {body}
      {retry.error ? (
        <p className="text-xs text-red-700" role="alert">
          {retry.error}
        </p>
      ) : null}
    </div>
  );
}

/** "Step 5 of 12 — Install PHP 8.4" and a bar of the steps finished. */
function StepProgress({ step, total, done, label }: { step: number; total: number; done: number; label: string | null }) {
  const pct = Math.round((Math.min(done, total) / total) * 100);
  return (
    <div className="space-y-1" data-testid="provisioning-progress" data-step={step} data-total={total} data-percent={pct}>
      <p className="text-sm" data-testid="provisioning-step">
        Step {step} of {total}
        {label ? ` — ${label}` : ""}
      </p>
      <div className="flex items-center gap-2">
        <div
          className="h-2 flex-1 overflow-hidden rounded bg-slate-200"
          role="progressbar"
          aria-valuenow={pct}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-label="Provisioning progress"
        >
          <div className="h-full bg-blue-600 transition-all" style={{ width: `${pct}%` }} />
        </div>
        <span className="w-10 text-right text-xs text-slate-500">{pct}%</span>
      </div>
    </div>
  );
}

/** A provisioning waiting for its first run: starts it when the server is connected and supported. */
function PendingStart({ provisioningId, canStart, osMessage }: { provisioningId: string; canStart: boolean; osMessage: string | null }) {
  const client = useTRPCClient();
  const start = useApiAction();
  if (osMessage)
    return (
      <p className="rounded bg-amber-50 px-3 py-2 text-sm text-amber-800" data-testid="provisioning-unsupported">
        {osMessage} BrokeForge cannot provision it.
      </p>
    );
  if (!canStart) return <p className="text-sm text-slate-600">Starts once the connection test passes.</p>;
  return (
    <div className="space-y-1">
      <Button
        type="button"
        disabled={start.pending}
        onClick={() => void start.run(() => client.provisioning.retry.mutate({ id: provisioningId }))}
      >
        Provision
      </Button>
      <FormError message={start.error} />
    </div>
  );
}

/** A connected server added without a role: choose one now and provision it. */
function ProvisionForm({ serverId }: { serverId: string }) {
  const client = useTRPCClient();
  const form = useApiForm(provisioningInputSchema, (input) => client.provisioning.create.mutate({ serverId, ...input }));
  return (
    <form
      className="mt-3 max-w-lg space-y-4"
      noValidate
      onSubmit={(ev) => {
        ev.preventDefault();
        const data = new FormData(ev.currentTarget);
        void form.submit({
          role: data.get("role"),
          phpVersion: data.get("phpVersion") ?? "",
          database: data.get("database") ?? undefined,
        });
      }}
    >
      <p className="text-sm text-slate-600" data-testid="provisioning-none">
        Not provisioned yet. Choose what this server is for:
      </p>
      <RoleFields errors={form.fieldErrors} />
      <FormError message={form.formError} />
      <Button type="submit" disabled={form.pending}>
        Provision
      </Button>
    </form>
  );
}
