import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { Button, ConnectionBadge, FormError } from "../components/ui";
import { attempt, requireApi } from "../lib/forms";

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
  switch (intent) {
    case "test-connection": {
      const r = await attempt(() => api.servers.testConnection({ id }));
      return r.ok ? redirect(`/servers/${id}`) : data({ formError: r.formError }, 400);
    }
    case "reset-host-key": {
      const r = await attempt(() => api.servers.resetHostKey({ id }));
      return r.ok ? redirect(`/servers/${id}`) : data({ formError: r.formError }, 400);
    }
    case "delete": {
      const r = await attempt(() => api.servers.remove({ id }));
      return r.ok ? redirect("/") : data({ formError: r.formError }, 400);
    }
    default:
      return data({ formError: "Unknown action" }, 400);
  }
}

const KEY_HELP: Record<string, string> = {
  root: "Authorize this key for the login user now (run the command on the server as that user).",
  brokeforge: "For the unprivileged site user “brokeforge”; BrokeForge installs it when it provisions the server.",
};

export default function ServerPage() {
  const { server } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state !== "idle";
  return (
    <div className="space-y-8">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <Link to="/" className="text-sm text-slate-500 hover:underline">← Servers</Link>
          <h1 className="mt-1 text-2xl font-semibold">{server.name}</h1>
          <p className="text-sm text-slate-600">{server.sshUser}@{server.host}:{server.sshPort}</p>
        </div>
        <div className="flex flex-wrap gap-2">
          <Link to="edit" className="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-50">Edit</Link>
          <Form method="post" onSubmit={(e) => { if (!confirm(`Delete ${server.name}? Its keys are deleted too.`)) e.preventDefault(); }}>
            <Button variant="danger" name="intent" value="delete" disabled={busy}>Delete</Button>
          </Form>
        </div>
      </div>
      <FormError message={result?.formError} />

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="connection-heading">
        <div className="flex flex-wrap items-center gap-3">
          <h2 id="connection-heading" className="font-medium">Connection</h2>
          <ConnectionBadge status={server.connectionStatus} />
          <Form method="post" className="ml-auto">
            <Button name="intent" value="test-connection" disabled={busy || server.connectionStatus === "connecting"}>Test connection</Button>
          </Form>
        </div>
        {server.connectionError ? (
          <p className="mt-3 rounded bg-red-50 px-3 py-2 text-sm text-red-700" data-testid="connection-error">{server.connectionError}</p>
        ) : null}
        {server.connectionStatus === "connecting" ? (
          <p className="mt-3 text-sm text-slate-500">Testing… <a href="" className="underline">Reload</a> to see the result.</p>
        ) : null}
        <dl className="mt-4 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="text-slate-500">Host key</dt>
          <dd className="break-all font-mono text-xs" data-testid="host-key-fingerprint">
            {server.hostKeyFingerprint ? `${server.hostKeyAlgorithm ?? ""} ${server.hostKeyFingerprint}` : "Not pinned yet: pinned on the first successful connection."}
          </dd>
          <dt className="text-slate-500">System</dt>
          <dd data-testid="os-info">{server.osName ? `${server.osName} ${server.osVersion ?? ""} · kernel ${server.kernel ?? "?"}` : "—"}</dd>
          <dt className="text-slate-500">Last connected</dt>
          <dd>{server.lastConnectedAt ? new Date(server.lastConnectedAt).toLocaleString() : "Never"}</dd>
        </dl>
        {server.hostKeyFingerprint ? (
          <Form method="post" className="mt-3" onSubmit={(e) => { if (!confirm("Forget the pinned host key? Only do this if you rebuilt the server.")) e.preventDefault(); }}>
            <button name="intent" value="reset-host-key" className="text-xs text-slate-500 underline">Reset pinned host key</button>
          </Form>
        ) : null}
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="keys-heading">
        <h2 id="keys-heading" className="font-medium">SSH keys</h2>
        <div className="mt-3 space-y-5">
          {server.publicKeys.map((k) => (
            <div key={k.kind} data-testid={`public-key-${k.kind}`}>
              <h3 className="text-sm font-medium">{k.kind === "root" ? `Login user (${server.sshUser})` : "Site user (brokeforge)"}</h3>
              <p className="text-xs text-slate-500">{KEY_HELP[k.kind]}</p>
              <label className="mt-2 block text-xs text-slate-500" htmlFor={`pub-${k.kind}`}>Public key</label>
              <textarea id={`pub-${k.kind}`} readOnly rows={2} className="mt-1 w-full rounded border border-slate-200 bg-slate-50 p-2 font-mono text-xs" value={k.publicKey} />
              {k.kind === "root" ? (
                <>
                  <label className="mt-2 block text-xs text-slate-500" htmlFor="authorize-command">Run on the server</label>
                  <textarea id="authorize-command" data-testid="authorize-command" readOnly rows={3} className="mt-1 w-full rounded border border-slate-200 bg-slate-900 p-2 font-mono text-xs text-green-200" value={k.authorizeCommand} />
                </>
              ) : null}
            </div>
          ))}
        </div>
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="activity-heading">
        <h2 id="activity-heading" className="font-medium">Recent operations</h2>
        {server.operations.length === 0 ? (
          <p className="mt-2 text-sm text-slate-500">Nothing has run on this server yet.</p>
        ) : (
          <ul className="mt-2 divide-y divide-slate-100 text-sm">
            {server.operations.map((o) => (
              <li key={o.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 py-2">
                <span className="font-mono text-xs">{o.kind}</span>
                <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{o.state}</span>
                <span className="text-xs text-slate-500">{new Date(o.createdAt).toLocaleString()}</span>
                {o.temporalUrl ? <a className="ml-auto text-xs text-blue-700 underline" href={o.temporalUrl} target="_blank" rel="noreferrer">Open in Temporal UI</a> : null}
                {o.errorLog ? <p className="w-full text-xs text-red-700">{o.errorLog}</p> : null}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
