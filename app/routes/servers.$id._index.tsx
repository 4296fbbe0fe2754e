// Overview: connection, host key, provisioning (live steps), the server's facts, keys to authorize, recent operations. Data comes from the
// layout's live query, so a test connection's result appears without a reload.
import { Form, useActionData, useNavigation, useRouteLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { Button, FormError } from "../components/ui";
import { ProvisioningPanel } from "../components/provisioning";
import { ServerFacts } from "../components/server-facts";
import { OperationBadge } from "../components/status";
import { useTRPC } from "../lib/trpc";
import type { action, loader } from "./servers.$id";

const KEY_HELP: Record<string, string> = {
  root: "Authorize this key for the login user now (run the command on the server as that user).",
  brokeforge: "For the unprivileged site user “brokeforge”; BrokeForge installs it when it provisions the server.",
};

export default function ServerOverview() {
  const loaded = useRouteLoaderData<typeof loader>("routes/servers.$id")!;
  const trpc = useTRPC();
  const server = useQuery(trpc.servers.byId.queryOptions({ id: loaded.server.id }, { initialData: loaded.server })).data ?? loaded.server;
  const result = useActionData<typeof action>();
  const busy = useNavigation().state !== "idle";
  return (
    <div className="space-y-8">
      <FormError message={result?.formError} />

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="connection-heading">
        <div className="flex flex-wrap items-center gap-3">
          <h2 id="connection-heading" className="font-medium">
            Connection
          </h2>
          <Form method="post" action={`/servers/${server.id}`} className="ml-auto">
            <Button name="intent" value="test-connection" disabled={busy || server.connectionStatus === "connecting"}>
              Test connection
            </Button>
          </Form>
        </div>
        {server.connectionError ? (
          <p className="mt-3 rounded bg-red-50 px-3 py-2 text-sm text-red-700" data-testid="connection-error">
            {server.connectionError}
          </p>
        ) : null}
        <dl className="mt-4 grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="text-slate-500">Host key</dt>
          <dd className="break-all font-mono text-xs" data-testid="host-key-fingerprint">
            {server.hostKeyFingerprint
              ? `${server.hostKeyAlgorithm ?? ""} ${server.hostKeyFingerprint}`
              : "Not pinned yet: pinned on the first successful connection."}
          </dd>
          <dt className="text-slate-500">System</dt>
          <dd data-testid="os-info">
            {server.osName ? `${server.osName} ${server.osVersion ?? ""} · kernel ${server.kernel ?? "?"}` : "—"}
          </dd>
          <dt className="text-slate-500">Last connected</dt>
          <dd>{server.lastConnectedAt ? new Date(server.lastConnectedAt).toLocaleString() : "Never"}</dd>
        </dl>
        {server.hostKeyFingerprint ? (
          <Form
            method="post"
            action={`/servers/${server.id}`}
            className="mt-3"
            onSubmit={(e) => {
              if (!confirm("Forget the pinned host key? Only do this if you rebuilt the server.")) e.preventDefault();
            }}
          >
            <button name="intent" value="reset-host-key" className="text-xs text-slate-500 underline">
              Reset pinned host key
            </button>
          </Form>
        ) : null}
      </section>

      <ProvisioningPanel server={server} />

      <ServerFacts server={server} />

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="keys-heading">
        <h2 id="keys-heading" className="font-medium">
          SSH keys
        </h2>
        <div className="mt-3 space-y-5">
          {server.publicKeys.map((k) => (
            <div key={k.kind} data-testid={`public-key-${k.kind}`}>
              <h3 className="text-sm font-medium">{k.kind === "root" ? `Login user (${server.sshUser})` : "Site user (brokeforge)"}</h3>
              <p className="text-xs text-slate-500">{KEY_HELP[k.kind]}</p>
              <label className="mt-2 block text-xs text-slate-500" htmlFor={`pub-${k.kind}`}>
                Public key
              </label>
              <textarea
                id={`pub-${k.kind}`}
                readOnly
                rows={2}
                className="mt-1 w-full rounded border border-slate-200 bg-slate-50 p-2 font-mono text-xs"
                value={k.publicKey}
              />
              {k.kind === "root" ? (
                <>
                  <label className="mt-2 block text-xs text-slate-500" htmlFor="authorize-command">
                    Run on the server
                  </label>
                  <textarea
                    id="authorize-command"
                    data-testid="authorize-command"
                    readOnly
                    rows={3}
                    className="mt-1 w-full rounded border border-slate-200 bg-slate-900 p-2 font-mono text-xs text-green-200"
                    value={k.authorizeCommand}
                  />
                </>
              ) : null}
            </div>
          ))}
        </div>
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="activity-heading">
        <h2 id="activity-heading" className="font-medium">
          Recent operations
        </h2>
        {server.operations.length === 0 ? (
          <p className="mt-2 text-sm text-slate-500">Nothing has run on this server yet.</p>
        ) : (
          <ul className="mt-2 divide-y divide-slate-100 text-sm">
            {server.operations.map((o) => (
              <li key={o.id} className="flex flex-wrap items-center gap-x-3 gap-y-1 py-2">
                <span className="text-xs">{o.title || o.kind}</span>
                <OperationBadge state={o.state} />
                <span className="text-xs text-slate-500">{new Date(o.createdAt).toLocaleString()}</span>
                {o.temporalUrl ? (
                  <a className="ml-auto text-xs text-blue-700 underline" href={o.temporalUrl} target="_blank" rel="noreferrer">
                    Open in Temporal UI
                  </a>
                ) : null}
                {o.errorLog ? <p className="w-full text-xs text-red-700">{o.errorLog}</p> : null}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
