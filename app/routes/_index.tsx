import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { describeProvisioning } from "../../domain/roles";
import { ProvisioningState } from "../components/provisioning";
import { SiteLink } from "../components/deployment";
import { OperationBadge, Progress, StatusBadge } from "../components/status";
import { ConnectionBadge } from "../components/ui";
import { requireApi } from "../lib/forms";
import { LiveIndicator, LiveUpdates } from "../lib/live";
import { useTRPC } from "../lib/trpc";

export const meta: MetaFunction = () => [{ title: "Servers · BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const [servers, sites] = await Promise.all([api.servers.list(), api.sites.all()]);
  return { servers, sites };
}

export default function Dashboard() {
  return (
    <LiveUpdates>
      <div className="space-y-10">
        <ServerList />
        <SiteList />
      </div>
    </LiveUpdates>
  );
}

function ServerList() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const servers = useQuery(trpc.servers.list.queryOptions(undefined, { initialData: loaded.servers })).data ?? loaded.servers;
  return (
    <div>
      <div className="flex flex-wrap items-center justify-between gap-4">
        <div className="flex items-center gap-3">
          <h1 className="text-2xl font-semibold">Servers</h1>
          <LiveIndicator />
        </div>
        <Link to="/servers/new" className="rounded-md bg-slate-900 px-3 py-2 text-sm font-medium text-white hover:bg-slate-700">
          Add server
        </Link>
      </div>
      {servers.length === 0 ? (
        <div className="mt-8 rounded-lg border border-dashed border-slate-300 bg-white p-10 text-center">
          <p className="font-medium">No servers yet</p>
          <p className="mt-1 text-sm text-slate-600">
            Add a server: BrokeForge generates its SSH key and shows you the one line to authorize it.
          </p>
        </div>
      ) : (
        <ul className="mt-6 divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white" aria-label="Servers">
          {servers.map((s) => {
            const p = s.provisioning;
            // The provisioning's own progress is shown below the row; the row names other work.
            const other = s.currentOperation && s.currentOperation.id !== p?.operation?.id ? s.currentOperation : null;
            return (
              <li key={s.id} data-testid={`server-${s.name}`}>
                <Link to={`/servers/${s.id}`} className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-3 hover:bg-slate-50">
                  <span className="font-medium">{s.name}</span>
                  <span className="text-sm text-slate-500">
                    {s.sshUser}@{s.host}:{s.sshPort}
                  </span>
                  <span className="text-sm text-slate-500">{s.osName ? `${s.osName} ${s.osVersion ?? ""}` : ""}</span>
                  <span className="ml-auto flex flex-wrap items-center gap-2">
                    {other ? (
                      <>
                        <span className="text-xs text-slate-600">{other.title || other.kind}</span>
                        <OperationBadge state={other.state} />
                        {other.state === "running" ? <Progress step={other.milestoneStep} total={other.milestoneTotal} /> : null}
                        {s.queued > 0 ? <span className="text-xs text-slate-500">+{s.queued} queued</span> : null}
                      </>
                    ) : null}
                    <ConnectionBadge status={s.connectionStatus} />
                  </span>
                </Link>
                {p ? (
                  <div className="space-y-1 px-4 pb-3" data-testid="server-provisioning">
                    <div className="flex flex-wrap items-center gap-2 text-sm text-slate-600">
                      <span>{describeProvisioning(p)}</span>
                      <StatusBadge status={p.status} />
                    </div>
                    <ProvisioningState provisioning={p} compact />
                  </div>
                ) : null}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

/** Every site of the user's servers: where it runs, its status, its last deploy and live commit. */
function SiteList() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const sites = useQuery(trpc.sites.all.queryOptions(undefined, { initialData: loaded.sites })).data ?? loaded.sites;
  if (loaded.servers.length === 0 && sites.length === 0) return null;
  return (
    <section aria-labelledby="sites-heading">
      <h2 id="sites-heading" className="text-xl font-semibold">
        Sites
      </h2>
      {sites.length === 0 ? (
        <p className="mt-2 text-sm text-slate-600">No sites yet: open a server&apos;s Sites tab to create one.</p>
      ) : (
        <ul className="mt-4 divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white" aria-label="Sites">
          {sites.map((site) => (
            <li key={site.id} data-testid={`site-${site.domain}`} data-status={site.status}>
              <SiteLink
                site={site}
                detail={
                  <span className="text-sm text-slate-500" data-testid="site-server">
                    {site.serverName}
                  </span>
                }
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
