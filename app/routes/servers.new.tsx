import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { useActionData } from "@remix-run/react";
import { z } from "zod";
import { provisioningInputSchema } from "../../domain/roles";
import { serverInputSchema } from "../../domain/schemas";
import { NO_ROLE, RoleFields } from "../components/provisioning";
import { ServerForm } from "../components/server-form";
import { attempt, formValues, requireApi } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "Add server · BrokeForge" }];

// The form's fields are flat (role, phpVersion, database next to name, host…), so a field error
// lands on its input; servers.create takes them as `provisioning`. Fields a role hides are not
// sent, and the schema drops what a role does not use. "Don't provision now" sends none.
const newServerFormSchema = z
  .object({
    server: serverInputSchema,
    provisioning: provisioningInputSchema.optional(),
  })
  .transform(({ server, provisioning }) => ({ ...server, provisioning }));

function split(values: Record<string, string>) {
  const { role, phpVersion, database, ...server } = values;
  if (role === NO_ROLE) return { server, provisioning: undefined };
  return { server, provisioning: { role, phpVersion: phpVersion ?? "", database: database || undefined } };
}

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireApi(request, context);
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const api = await requireApi(request, context);
  const values = formValues(await request.formData());
  const parsed = newServerFormSchema.safeParse(split(values));
  // Errors by field name: the nested schema's paths are ["server", "host"] / ["provisioning", "role"].
  if (!parsed.success) {
    const fieldErrors: Record<string, string> = {};
    for (const issue of parsed.error.issues) fieldErrors[String(issue.path[1] ?? issue.path[0] ?? "form")] ??= issue.message;
    return data({ ok: false as const, fieldErrors, formError: null, values }, 400);
  }
  const result = await attempt(() => api.servers.create(parsed.data), values);
  if (result.ok) return redirect(`/servers/${result.data.id}`);
  return data(result, 400);
}

export default function NewServer() {
  const result = useActionData<typeof action>();
  return (
    <div>
      <h1 className="text-2xl font-semibold">Add a server</h1>
      <p className="mt-1 text-sm text-slate-600">
        BrokeForge generates an SSH key for this server; next you authorize it with one command. Once the connection test passes, BrokeForge
        provisions it as the role you choose.
      </p>
      <ServerForm
        defaults={result?.values}
        fieldErrors={result?.fieldErrors}
        formError={result?.formError}
        submitLabel="Add server"
        cancelTo="/"
      >
        <RoleFields defaults={result?.values} errors={result?.fieldErrors} allowNone />
      </ServerForm>
    </div>
  );
}
