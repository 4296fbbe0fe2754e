import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { useActionData, useLoaderData } from "@remix-run/react";
import { serverInputSchema } from "../../domain/schemas";
import { ServerForm } from "../components/server-form";
import { attempt, formValues, requireApi, submit } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "Edit server · BrokeForge" }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const result = await attempt(() => api.servers.byId({ id: params.id! }));
  if (!result.ok) throw new Response(result.formError, { status: 400 });
  const s = result.data;
  return { server: { id: s.id, name: s.name, host: s.host, sshPort: s.sshPort, sshUser: s.sshUser } };
}

export async function action({ request, context, params }: ActionFunctionArgs) {
  const api = await requireApi(request, context);
  const result = await submit(serverInputSchema, formValues(await request.formData()), (input) =>
    api.servers.update({ id: params.id!, ...input }),
  );
  if (result.ok) return redirect(`/servers/${params.id}`);
  return data(result, 400);
}

export default function EditServer() {
  const { server } = useLoaderData<typeof loader>();
  const result = useActionData<typeof action>();
  return (
    <div>
      <h1 className="text-2xl font-semibold">Edit {server.name}</h1>
      <p className="mt-1 text-sm text-slate-600">
        Changing the host or port forgets the pinned host key; the next connection pins the new one.
      </p>
      <ServerForm
        defaults={result?.values ?? server}
        fieldErrors={result?.fieldErrors}
        formError={result?.formError}
        submitLabel="Save"
        cancelTo={`/servers/${server.id}`}
      />
    </div>
  );
}
