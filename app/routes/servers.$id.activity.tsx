import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { OperationBadge, Progress } from "../components/status";
import { EmptyState } from "../components/resource-row";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { useApiAction } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  return { serverId: params.id!, operations: await api.operations.list({ serverId: params.id! }) };
}

function duration(from: string | Date | null, to: string | Date | null): string {
  if (!from) return "";
  const ms = (to ? new Date(to) : new Date()).getTime() - new Date(from).getTime();
  return ms < 1000 ? `${ms} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`;
}

export default function ActivityTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const ops = useQuery(trpc.operations.list.queryOptions({ serverId: loaded.serverId }, { initialData: loaded.operations })).data ?? [];
  const cancel = useApiAction();
  if (ops.length === 0) return <EmptyState title="No operations yet">Everything BrokeForge does on this server appears here.</EmptyState>;
  return (
    <div>
      {cancel.error ? (
        <p className="mb-2 text-sm text-red-700" role="alert">
          {cancel.error}
        </p>
      ) : null}
      <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white text-sm" aria-label="Operations">
        {ops.map((o) => (
          <li key={o.id} className="space-y-1 px-4 py-3" data-testid="operation" data-kind={o.kind} data-state={o.state}>
            <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
              <span className="text-sm" title={o.kind}>
                {o.title || o.kind}
              </span>
              <OperationBadge state={o.state} />
              {o.state === "running" || o.state === "queued" ? <Progress step={o.milestoneStep} total={o.milestoneTotal} /> : null}
              <span className="text-xs text-slate-500">
                {o.by ?? "system"} · {new Date(o.createdAt).toLocaleString()}
                {o.startedAt ? ` · ${duration(o.startedAt, o.finishedAt)}` : ""}
              </span>
              <span className="ml-auto flex gap-3">
                {(o.state === "queued" || o.state === "running") && o.resourceType !== "server" ? (
                  <button
                    type="button"
                    className="text-xs text-red-700 underline"
                    disabled={cancel.pending}
                    onClick={() => void cancel.run(() => client.operations.cancel.mutate({ id: o.id }))}
                  >
                    Cancel
                  </button>
                ) : null}
                {o.temporalUrl ? (
                  <a className="text-xs text-blue-700 underline" href={o.temporalUrl} target="_blank" rel="noreferrer">
                    Temporal UI
                  </a>
                ) : null}
              </span>
            </div>
            {o.errorLog ? <p className="text-xs text-red-700">{o.errorLog}</p> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
