import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { scheduledTaskInputSchema } from "../../domain/scheduler";
import { scheduledTask } from "../../catalogue/resources/scheduled-task";
import { ResourceList } from "../components/resource-list";
import { Select } from "../components/select";
import { Button, Field, FormError } from "../components/ui";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { formObject, useApiForm } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  return { serverId: params.id!, tasks: await api.scheduler.list({ serverId: params.id! }) };
}

const FREQUENCIES = [
  ["every_minute", "Every minute"],
  ["hourly", "Hourly"],
  ["daily", "Daily (midnight)"],
  ["weekly", "Weekly (Sunday)"],
  ["monthly", "Monthly (1st)"],
  ["reboot", "At reboot"],
  ["custom", "Custom cron expression"],
] as const;

export default function SchedulerTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const serverId = loaded.serverId;
  const tasks = useQuery(trpc.scheduler.list.queryOptions({ serverId }, { initialData: loaded.tasks })).data ?? [];
  const form = useApiForm(scheduledTaskInputSchema, (input) => client.scheduler.create.mutate({ serverId, ...input }));
  const [frequency, setFrequency] = useState("daily");

  return (
    <div className="space-y-6">
      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="add-task">
        <h2 id="add-task" className="font-medium">
          Add a scheduled task
        </h2>
        <form
          noValidate
          className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2"
          onChange={(e) => {
            const t = e.target as HTMLSelectElement;
            if (t.name === "frequency") setFrequency(t.value);
          }}
          onSubmit={async (e) => {
            e.preventDefault();
            const el = e.currentTarget;
            if (await form.submit(formObject(el))) {
              el.reset();
              setFrequency("daily");
            }
          }}
        >
          <Field label="Name" name="name" error={form.fieldErrors.name} />
          <Field label="Run as user" name="user" defaultValue="root" error={form.fieldErrors.user} />
          <div className="sm:col-span-2">
            <Field label="Command" name="command" error={form.fieldErrors.command} hint="Run by /bin/sh, one line." />
          </div>
          <Select label="Frequency" name="frequency" options={FREQUENCIES} defaultValue="daily" error={form.fieldErrors.frequency} />
          {frequency === "custom" ? (
            <Field
              label="Cron expression"
              name="cron"
              error={form.fieldErrors.cron}
              hint="minute hour day month weekday, e.g. */15 * * * *"
            />
          ) : (
            <div />
          )}
          <div>
            <Button type="submit" disabled={form.pending}>
              Add task
            </Button>
          </div>
          <div className="sm:col-span-2">
            <FormError message={form.formError} />
          </div>
        </form>
      </section>
      <ResourceList
        kind={scheduledTask}
        rows={tasks}
        procedures={client.scheduler}
        empty="Tasks run from the user's crontab; BrokeForge only touches the lines it added."
        testId={(t) => `task-${t.name}`}
        title={(t) => t.name}
        detail={(t) => (
          <>
            <code>{t.cron}</code> as {t.user}: <code>{t.command}</code>
          </>
        )}
      />
    </div>
  );
}
