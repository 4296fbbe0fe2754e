import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data } from "@remix-run/node";
import { Form, useActionData, useLoaderData, useNavigation } from "@remix-run/react";
import { apiTokenCreateSchema, type FieldErrors } from "../../domain/schemas";
import { Button, Field, FormError } from "../components/ui";
import { attempt, formValues, requireApi, submit } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "API tokens · BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  return { tokens: await api.tokens.list() };
}

export async function action({ request, context }: ActionFunctionArgs) {
  const api = await requireApi(request, context);
  const values = formValues(await request.formData());
  if (values.intent === "revoke") {
    const r = await attempt(() => api.tokens.revoke({ id: values.id ?? "" }));
    return data(result(null, {}, r.ok ? null : r.formError), r.ok ? 200 : 400);
  }
  const r = await submit(apiTokenCreateSchema, values, (input) => api.tokens.create(input));
  if (r.ok) return data(result({ name: r.data.name, token: r.data.token }, {}, null));
  return data(result(null, r.fieldErrors, r.formError), 400);
}

function result(created: { name: string; token: string } | null, fieldErrors: FieldErrors, formError: string | null) {
  return { created, fieldErrors, formError };
}

export default function Tokens() {
  const { tokens } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  const busy = useNavigation().state !== "idle";
  return (
    <div className="space-y-6">
      <div>
        <h1 className="text-2xl font-semibold">API tokens</h1>
        <p className="mt-1 text-sm text-slate-600">
          For internal tools and scripts: send as <code>Authorization: Bearer …</code> over HTTP, or as the <code>token</code> connection
          parameter over WebSocket.
        </p>
      </div>
      {result?.created ? (
        <div className="rounded-lg border border-green-300 bg-green-50 p-4" role="status">
          <p className="text-sm font-medium">Token “{result.created.name}” created. Copy it now: it is not shown again.</p>
          <label htmlFor="new-token" className="sr-only">
            New token
          </label>
          <input
            id="new-token"
            data-testid="new-token"
            readOnly
            value={result.created.token}
            className="mt-2 w-full rounded border border-green-300 bg-white p-2 font-mono text-xs"
          />
        </div>
      ) : null}
      <Form method="post" className="flex max-w-lg flex-col gap-3 sm:flex-row sm:items-end" noValidate>
        <div className="flex-1">
          <Field label="Token name" name="name" error={result?.fieldErrors.name} hint="e.g. deploy-bot" />
        </div>
        <Button type="submit" name="intent" value="create" disabled={busy}>
          Create token
        </Button>
      </Form>
      <FormError message={result?.formError} />
      {tokens.length === 0 ? (
        <p className="text-sm text-slate-500">No tokens yet.</p>
      ) : (
        <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white text-sm" aria-label="API tokens">
          {tokens.map((t) => (
            <li key={t.id} className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-3">
              <span className="font-medium">{t.name}</span>
              <span className="font-mono text-xs text-slate-500">{t.prefix}…</span>
              <span className="text-xs text-slate-500">created {new Date(t.createdAt).toLocaleDateString()}</span>
              <span className="text-xs text-slate-500">
                {t.lastUsedAt ? `last used ${new Date(t.lastUsedAt).toLocaleString()}` : "never used"}
              </span>
              {t.revokedAt ? (
                <span className="ml-auto rounded bg-slate-100 px-2 py-0.5 text-xs">revoked</span>
              ) : (
                <Form method="post" className="ml-auto">
                  <input type="hidden" name="id" value={t.id} />
                  <Button variant="danger" name="intent" value="revoke" disabled={busy}>
                    Revoke
                  </Button>
                </Form>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
