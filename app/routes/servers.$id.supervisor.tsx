import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { DEFAULT_PROGRAM_DIRECTORY, supervisorProgramInputSchema } from "../../domain/supervisor";
import { supervisorProgram } from "../../catalogue/resources/supervisor-program";
import { ResourceList } from "../components/resource-list";
import { Checkbox } from "../components/select";
import { Button, Field, FormError } from "../components/ui";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { formObject, useApiForm } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  return { serverId: params.id!, programs: await api.supervisor.list({ serverId: params.id! }) };
}

export default function SupervisorTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const serverId = loaded.serverId;
  const programs = useQuery(trpc.supervisor.list.queryOptions({ serverId }, { initialData: loaded.programs })).data ?? [];
  const form = useApiForm(supervisorProgramInputSchema, (input) => client.supervisor.create.mutate({ serverId, ...input }));

  return (
    <div className="space-y-6">
      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="add-program">
        <h2 id="add-program" className="font-medium">
          Add a program
        </h2>
        <form
          noValidate
          className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2"
          onSubmit={async (e) => {
            e.preventDefault();
            const el = e.currentTarget;
            if (await form.submit(formObject(el))) el.reset();
          }}
        >
          <Field label="Name" name="name" error={form.fieldErrors.name} hint="e.g. queue worker" />
          <Field label="Run as user" name="user" defaultValue="root" error={form.fieldErrors.user} />
          <div className="sm:col-span-2">
            <Field label="Command" name="command" error={form.fieldErrors.command} hint="e.g. php artisan queue:work" />
          </div>
          <Field label="Directory" name="directory" defaultValue={DEFAULT_PROGRAM_DIRECTORY} error={form.fieldErrors.directory} />
          <Field label="Processes" name="numprocs" type="number" defaultValue={1} error={form.fieldErrors.numprocs} />
          <div className="flex gap-6">
            <Checkbox label="Start automatically" name="autostart" defaultChecked />
            <Checkbox label="Restart on exit" name="autorestart" defaultChecked />
          </div>
          <div>
            <Button type="submit" disabled={form.pending}>
              Add program
            </Button>
          </div>
          <div className="sm:col-span-2">
            <FormError message={form.formError} />
          </div>
        </form>
      </section>
      <ResourceList
        kind={supervisorProgram}
        rows={programs}
        procedures={client.supervisor}
        empty="Long-running processes (queue workers, daemons) kept alive by supervisor."
        testId={(p) => `program-${p.name}`}
        title={(p) => p.name}
        detail={(p) => (
          <>
            {p.numprocs}× <code>{p.command}</code> in {p.directory} as {p.user}
          </>
        )}
      />
    </div>
  );
}
