import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { firewallRuleInputSchema } from "../../domain/firewall";
import { firewallRule } from "../../catalogue/resources/firewall-rule";
import { ResourceList } from "../components/resource-list";
import { Select } from "../components/select";
import { Button, Field, FormError } from "../components/ui";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { formObject, useApiForm } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  return { serverId: params.id!, rules: await api.firewall.list({ serverId: params.id! }) };
}

export default function FirewallTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const client = useTRPCClient();
  const serverId = loaded.serverId;
  const rules = useQuery(trpc.firewall.list.queryOptions({ serverId }, { initialData: loaded.rules })).data ?? [];
  const form = useApiForm(firewallRuleInputSchema, (input) => client.firewall.create.mutate({ serverId, ...input }));

  return (
    <div className="space-y-6">
      <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="add-rule">
        <h2 id="add-rule" className="font-medium">
          Add a rule
        </h2>
        <form
          noValidate
          className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-3"
          onSubmit={async (e) => {
            e.preventDefault();
            const el = e.currentTarget;
            if (await form.submit(formObject(el))) el.reset();
          }}
        >
          <Field label="Name" name="name" error={form.fieldErrors.name} hint="e.g. HTTPS" />
          <Field label="Port or range" name="port" error={form.fieldErrors.port} hint="443, or 8000:8100" />
          <Field label="From (IP or CIDR)" name="source" error={form.fieldErrors.source} hint="Empty: anywhere" />
          <Select
            label="Protocol"
            name="protocol"
            options={[
              ["tcp", "TCP"],
              ["udp", "UDP"],
              ["any", "Any"],
            ]}
            error={form.fieldErrors.protocol}
          />
          <Select
            label="Action"
            name="action"
            options={[
              ["allow", "Allow"],
              ["deny", "Deny"],
            ]}
            error={form.fieldErrors.action}
          />
          <div className="flex items-end">
            <Button type="submit" disabled={form.pending} className="w-full">
              Add rule
            </Button>
          </div>
          <div className="sm:col-span-3">
            <FormError message={form.formError} />
          </div>
        </form>
      </section>
      <ResourceList
        kind={firewallRule}
        rows={rules}
        procedures={client.firewall}
        empty="Rules you add are applied with ufw, one operation each. SSH stays open."
        testId={(r) => `rule-${r.name}`}
        title={(r) => r.name}
        detail={(r) => `${r.action} ${r.port}${r.protocol === "any" ? "" : `/${r.protocol}`} from ${r.source ?? "anywhere"}`}
      />
    </div>
  );
}
