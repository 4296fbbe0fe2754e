import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { useActionData } from "@remix-run/react";
import { serverInputSchema } from "../../domain/schemas";
import { ServerForm } from "../components/server-form";
import { formValues, requireApi, submit } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "Add server · BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  await requireApi(request, context);
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const api = await requireApi(request, context);
  const result = await submit(serverInputSchema, formValues(await request.formData()), (input) => api.servers.create(input));
  if (result.ok) return redirect(`/servers/${result.data.id}`);
  return data(result, 400);
}

export default function NewServer() {
  const result = useActionData<typeof action>();
  return (
    <div>
      <h1 className="text-2xl font-semibold">Add a server</h1>
      <p className="mt-1 text-sm text-slate-600">
        BrokeForge generates an SSH key for this server; next you authorize it with one command.
      </p>
      <ServerForm
        defaults={result?.values}
        fieldErrors={result?.fieldErrors}
        formError={result?.formError}
        submitLabel="Add server"
        cancelTo="/"
      />
    </div>
  );
}
