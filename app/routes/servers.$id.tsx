// Server layout: header, tabs, and the live subscription for everything below it.
import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, NavLink, Outlet, useLoaderData, useNavigation } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { Button, ConnectionBadge } from "../components/ui";
import { attempt, requireApi } from "../lib/forms";
import { LiveIndicator, LiveUpdates } from "../lib/live";
import { useTRPC } from "../lib/trpc";

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.server.name ?? "Server"} · BrokeForge` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const result = await attempt(() => api.servers.byId({ id: params.id! }));
  if (!result.ok) throw new Response(result.formError, { status: 400 });
  return { server: result.data };
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const api = await requireApi(request, context);
  const intent = (await request.formData()).get("intent");
  const id = params.id!;
  const calls: Record<string, () => Promise<unknown>> = {
    "test-connection": () => api.servers.testConnection({ id }),
    "reset-host-key": () => api.servers.resetHostKey({ id }),
    delete: () => api.servers.remove({ id }),
  };
  const call = calls[String(intent)];
  if (!call) return data({ formError: "Unknown action" }, 400);
  const r = await attempt(call);
  if (!r.ok) return data({ formError: r.formError }, 400);
  return redirect(intent === "delete" ? "/" : `/servers/${id}`);
}

const TABS = [
  ["", "Overview"],
  ["sites", "Sites"],
  ["packages", "Packages"],
  ["firewall", "Firewall"],
  ["scheduler", "Scheduler"],
  ["supervisor", "Supervisor"],
  ["activity", "Activity"],
] as const;

export default function ServerLayout() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const { data: server } = useQuery(trpc.servers.byId.queryOptions({ id: loaded.server.id }, { initialData: loaded.server }));
  const s = server ?? loaded.server;
  const busy = useNavigation().state !== "idle";
  return (
    <LiveUpdates serverId={s.id}>
      <div className="space-y-6">
        <div className="flex flex-wrap items-start justify-between gap-4">
          <div>
            <Link to="/" className="text-sm text-slate-500 hover:underline">
              ← Servers
            </Link>
            <div className="mt-1 flex flex-wrap items-center gap-3">
              <h1 className="text-2xl font-semibold">{s.name}</h1>
              <ConnectionBadge status={s.connectionStatus} />
              <LiveIndicator />
            </div>
            <p className="text-sm text-slate-600">
              {s.sshUser}@{s.host}:{s.sshPort}
            </p>
          </div>
          <div className="flex flex-wrap gap-2">
            <Link
              to={`/servers/${s.id}/edit`}
              className="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50"
            >
              Edit
            </Link>
            <Form
              method="post"
              action={`/servers/${s.id}`}
              onSubmit={(e) => {
                if (!confirm(`Delete ${s.name}? Its keys are deleted too.`)) e.preventDefault();
              }}
            >
              <Button variant="danger" name="intent" value="delete" disabled={busy}>
                Delete
              </Button>
            </Form>
          </div>
        </div>
        <nav aria-label="Server sections" className="-mx-4 overflow-x-auto border-b border-slate-200 px-4">
          <ul className="flex gap-1">
            {TABS.map(([path, label]) => (
              <li key={label}>
                <NavLink
                  to={`/servers/${s.id}${path ? `/${path}` : ""}`}
                  end
                  className={({ isActive }) =>
                    `block whitespace-nowrap border-b-2 px-3 py-2 text-sm ${isActive ? "border-slate-900 font-medium text-slate-900" : "border-transparent text-slate-500 hover:text-slate-900"}`
                  }
                >
                  {label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <Outlet />
      </div>
    </LiveUpdates>
  );
}
