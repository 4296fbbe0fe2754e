// A server's sites: each with its status and last deploy, and the form that creates one. The
// PHP versions offered are the ones installed on this server (its package rows), so a site is
// never pointed at a php-fpm that is not there.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { siteInputSchema } from "../../domain/sites";
import { SiteLink } from "../components/deployment";
import { EmptyState } from "../components/resource-row";
import { installedPhp, SiteFields, siteValues } from "../components/site-fields";
import { Button, Field, FormError } from "../components/ui";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { formObject, useApiForm } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const serverId = params.id!;
  const [sites, packages] = await Promise.all([api.sites.list({ serverId }), api.packages.list({ serverId })]);
  return { serverId, sites, packages };
}

export default function SitesTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const serverId = loaded.serverId;
  const sites = useQuery(trpc.sites.list.queryOptions({ serverId }, { initialData: loaded.sites })).data ?? loaded.sites;
  const packages = useQuery(trpc.packages.list.queryOptions({ serverId }, { initialData: loaded.packages })).data ?? loaded.packages;
  const phpVersions = installedPhp(packages);

  return (
    <div className="space-y-6">
      {sites.length === 0 ? (
        <EmptyState title="No sites">Put an app from a git repository on this server: create a site below, then deploy it.</EmptyState>
      ) : (
        <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" aria-label="Sites">
          {sites.map((site) => (
            <li key={site.id} data-testid={`site-${site.domain}`} data-status={site.status}>
              <SiteLink site={site} detail={<span className="text-xs text-slate-500">PHP {site.phpVersion}</span>} />
            </li>
          ))}
        </ul>
      )}
      <NewSite serverId={serverId} phpVersions={phpVersions} />
    </div>
  );
}

function NewSite({ serverId, phpVersions }: { serverId: string; phpVersions: string[] }) {
  const client = useTRPCClient();
  const form = useApiForm(siteInputSchema, (input) => client.sites.create.mutate({ serverId, ...input }));
  const e = form.fieldErrors;
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="new-site">
      <h2 id="new-site" className="font-medium">
        New site
      </h2>
      {phpVersions.length === 0 ? (
        <p className="mt-2 text-sm text-slate-600" data-testid="no-php">
          This server has no PHP installed yet. Install a PHP version on the Packages tab (or provision the server as a web server), then
          create the site.
        </p>
      ) : (
        <form
          noValidate
          className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2"
          onSubmit={async (event) => {
            event.preventDefault();
            const el = event.currentTarget;
            if (await form.submit(siteValues(formObject(el)))) el.reset();
          }}
        >
          <div className="sm:col-span-2">
            <Field label="Domain" name="domain" error={e.domain} hint="e.g. app.example.com" />
          </div>
          <SiteFields errors={e} phpVersions={phpVersions} />
          <div className="sm:col-span-2">
            <FormError message={form.formError} />
          </div>
          <div>
            <Button type="submit" disabled={form.pending}>
              Create site
            </Button>
          </div>
        </form>
      )}
    </section>
  );
}
