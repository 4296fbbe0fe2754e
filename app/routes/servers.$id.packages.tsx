import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { z } from "zod";
import { PACKAGES, packageDefinition } from "../../catalogue";
import type { PackageDefinition } from "../../catalogue/kit";
import { ResourceRow } from "../components/resource-row";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { useApiAction } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const [packages, server] = await Promise.all([api.packages.list({ serverId: params.id! }), api.servers.byId({ id: params.id! })]);
  return { serverId: params.id!, packages, offers: offersOf(server.packageOffers) };
}

/** The apt offers the last connection test read, as `{ deb: { installed, candidate } }`. */
const offersSchema = z.record(z.string(), z.object({ installed: z.string().nullable(), candidate: z.string().nullable() })).catch({});
function offersOf(json: unknown) {
  return offersSchema.parse(json ?? {});
}

/** "ufw 0.36.2-1 available" from the server's own apt, or nothing before a connection test. */
function offered(definition: PackageDefinition, offers: ReturnType<typeof offersOf>): string | null {
  const versions = definition.aptPackages.map((deb) => [deb, offers[deb]?.candidate] as const).filter(([, v]) => v);
  if (versions.length === 0) return null;
  return `${versions.map(([deb, v]) => `${deb} ${v}`).join(", ")} available from the server's apt`;
}

/** "Firewall (ufw)"; just "Supervisor" when the package is called like its label. */
const title = (p: PackageDefinition) => (p.label.toLowerCase() === p.name ? p.label : `${p.label} (${p.name})`);

export default function PackagesTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const serverId = loaded.serverId;
  const packages = useQuery(trpc.packages.list.queryOptions({ serverId }, { initialData: loaded.packages })).data ?? [];
  const install = useApiAction();
  const missing = PACKAGES.filter((d) => !packages.some((p) => p.type === d.type));
  return (
    <div className="space-y-6">
      <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" aria-label="Installed packages">
        {packages.map((p) => (
          <ResourceRow
            key={p.id}
            testId={`package-${p.type}`}
            title={(() => {
              const definition = packageDefinition(p.type);
              return definition ? title(definition) : p.name;
            })()}
            detail={p.version ? `${p.name} ${p.version}` : p.name}
            status={p.status}
            errorLog={p.errorLog}
            actions={{ retry: () => client.packages.retry.mutate({ id: p.id }), remove: () => client.packages.remove.mutate({ id: p.id }) }}
          />
        ))}
        {missing.map((definition) => (
          <li key={definition.type} className="flex flex-wrap items-center gap-3 px-4 py-3">
            <div className="flex-1">
              <div className="font-medium">{title(definition)}</div>
              <div className="text-xs text-slate-500">{definition.description}</div>
              {offered(definition, loaded.offers) ? (
                <div className="text-xs text-slate-400" data-testid={`offer-${definition.type}`}>
                  {offered(definition, loaded.offers)}
                </div>
              ) : null}
            </div>
            <button
              type="button"
              disabled={install.pending}
              onClick={() => void install.run(() => client.packages.create.mutate({ serverId, type: definition.type }))}
              className="rounded-md bg-slate-900 px-3 py-1.5 text-xs font-medium text-white hover:bg-slate-700 disabled:opacity-50"
            >
              Install
            </button>
          </li>
        ))}
      </ul>
      {install.error ? (
        <p className="text-sm text-red-700" role="alert">
          {install.error}
        </p>
      ) : null}
    </div>
  );
}
