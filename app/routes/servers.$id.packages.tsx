// A server's packages: every package of the catalogue, in its order, with what is installed
// (one line per variant for PHP), install and remove, what a removal takes with it, the
// generated secrets (revealed on request), and the site user's deploy key.
import type { LoaderFunctionArgs } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { PACKAGES, packageDefinition } from "../../catalogue";
import type { PackageDefinition } from "../../catalogue/kit";
import { CopyButton } from "../components/copy-button";
import { ResourceRow } from "../components/resource-row";
import { requireApi } from "../lib/forms";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { useApiAction } from "../lib/use-api-form";

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const [packages, server] = await Promise.all([api.packages.list({ serverId: params.id! }), api.servers.byId({ id: params.id! })]);
  return { serverId: params.id!, packages, server };
}

type Loaded = ReturnType<typeof useLoaderData<typeof loader>>;
type PackageRow = Loaded["packages"][number];

/** The apt offers the last connection test read, as `{ deb: { installed, candidate } }`. */
const offersSchema = z.record(z.string(), z.object({ installed: z.string().nullable(), candidate: z.string().nullable() })).catch({});
type Offers = z.infer<typeof offersSchema>;
/** The variants the server's apt offers per package type, newest first: `{ php: ["8.4", "8.2"] }`. */
const variantOffersSchema = z.record(z.string(), z.array(z.string())).catch({});

/** "ufw 0.36.2-1 available" from the server's own apt, or nothing before a connection test. */
function offered(definition: PackageDefinition, offers: Offers): string | null {
  const versions = definition.aptPackages.map((deb) => [deb, offers[deb]?.candidate] as const).filter(([, v]) => v);
  if (versions.length === 0) return null;
  return `${versions.map(([deb, v]) => `${deb} ${v}`).join(", ")} available from the server's apt`;
}

/** "Firewall (ufw)"; just "Supervisor" when the package is called like its label. */
const title = (p: PackageDefinition) => (p.label.toLowerCase() === p.name ? p.label : `${p.label} (${p.name})`);

export default function PackagesTab() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const serverId = loaded.serverId;
  const packages = useQuery(trpc.packages.list.queryOptions({ serverId }, { initialData: loaded.packages })).data ?? [];
  const server = useQuery(trpc.servers.byId.queryOptions({ id: serverId }, { initialData: loaded.server })).data ?? loaded.server;
  const offers = offersSchema.parse(server.packageOffers ?? {});
  const variantOffers = variantOffersSchema.parse(server.variantOffers ?? {});
  // Packages registered at run time (an extension's) are not in the browser's catalogue: their rows still show.
  const unknown = packages.filter((p) => !PACKAGES.some((d) => d.type === p.type));
  return (
    <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white" aria-label="Packages">
      {PACKAGES.map((definition) => (
        <PackageEntry
          key={definition.type}
          serverId={serverId}
          definition={definition}
          rows={packages.filter((p) => p.type === definition.type)}
          offers={offers}
          variants={variantOffers[definition.type] ?? []}
        />
      ))}
      {unknown.length ? (
        <li className="px-4 py-3">
          <ul aria-label="Other packages">
            {unknown.map((p) => (
              <InstalledRow key={p.id} row={p} definition={packageDefinition(p.type)} />
            ))}
          </ul>
        </li>
      ) : null}
    </ul>
  );
}

function PackageEntry(props: {
  serverId: string;
  definition: PackageDefinition;
  rows: PackageRow[];
  offers: Offers;
  variants: readonly string[];
}) {
  const { definition, rows } = props;
  const client = useTRPCClient();
  const install = useApiAction();
  const offer = rows.length === 0 ? offered(definition, props.offers) : null;
  const needs = definition.requires.map((t) => packageDefinition(t)?.label ?? t);
  const installButton = () => (
    <button
      type="button"
      disabled={install.pending}
      onClick={() => void install.run(() => client.packages.create.mutate({ serverId: props.serverId, type: definition.type }))}
      className="rounded-md bg-slate-900 px-3 py-1.5 text-xs font-medium text-white hover:bg-slate-700 disabled:opacity-50"
    >
      Install
    </button>
  );
  return (
    <li className="px-4 py-3" data-testid={`catalogue-${definition.type}`} data-installed={rows.length > 0 ? "yes" : "no"}>
      <div className="flex flex-wrap items-center gap-3">
        <div className="min-w-0 flex-1">
          <div className="font-medium">{title(definition)}</div>
          <div className="text-xs text-slate-500">{definition.description}</div>
          {needs.length ? <div className="text-xs text-slate-500">Needs {needs.join(", ")}.</div> : null}
          {offer ? (
            <div className="text-xs text-slate-400" data-testid={`offer-${definition.type}`}>
              {offer}
            </div>
          ) : null}
        </div>
        {definition.variants ? (
          <VariantInstall
            definition={definition}
            offered={props.variants}
            installed={rows.map((r) => r.variant)}
            pending={install.pending}
            install={(variant) =>
              void install.run(() => client.packages.create.mutate({ serverId: props.serverId, type: definition.type, variant }))
            }
          />
        ) : rows.length === 0 ? (
          installButton()
        ) : null}
      </div>
      {install.error ? (
        <p className="mt-2 text-xs text-red-700" role="alert">
          {install.error}
        </p>
      ) : null}
      {rows.length ? (
        <ul className="mt-2 divide-y divide-slate-100 rounded-md border border-slate-100" aria-label={`${definition.label} installed`}>
          {rows.map((row) => (
            <InstalledRow key={row.id} row={row} definition={definition} />
          ))}
        </ul>
      ) : null}
    </li>
  );
}

/**
 * A package installed side by side (PHP): the versions the server's apt offered at the last
 * connection test, newest first, that are not installed yet. Which one is the `php` command is
 * not recorded, so it is not shown here.
 */
function VariantInstall(props: {
  definition: PackageDefinition;
  offered: readonly string[];
  installed: readonly string[];
  pending: boolean;
  install: (variant: string) => void;
}) {
  const available = props.offered.filter((v) => !props.installed.includes(v));
  const [chosen, setChosen] = useState<string | null>(null);
  const kind = props.definition.variants!.label;
  if (props.offered.length === 0) {
    return (
      <p className="text-xs text-slate-500" data-testid={`offer-${props.definition.type}`}>
        Test the connection to see which {props.definition.label} {kind}s this server&apos;s apt offers.
      </p>
    );
  }
  if (available.length === 0) return null;
  const value = chosen && available.includes(chosen) ? chosen : available[0]!;
  const id = `variant-${props.definition.type}`;
  return (
    <div className="flex items-center gap-2" data-testid={`offer-${props.definition.type}`}>
      <label htmlFor={id} className="text-xs text-slate-600">
        {props.definition.label} {kind}
      </label>
      <select
        id={id}
        value={value}
        onChange={(e) => setChosen(e.target.value)}
        className="rounded-md border border-slate-300 bg-white px-2 py-1 text-xs"
      >
        {available.map((v) => (
          <option key={v} value={v}>
            {v}
            {v === props.offered[0] ? " (newest offered)" : ""}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={props.pending}
        onClick={() => props.install(value)}
        className="rounded-md bg-slate-900 px-3 py-1.5 text-xs font-medium text-white hover:bg-slate-700 disabled:opacity-50"
      >
        Install
      </button>
    </div>
  );
}

function InstalledRow({ row, definition }: { row: PackageRow; definition: PackageDefinition | undefined }) {
  const client = useTRPCClient();
  const what = `${definition?.label ?? row.type}${row.variant ? ` ${row.variant}` : ""}`;
  const deployKey = deployKeyOf(row);
  return (
    <ResourceRow
      testId={row.variant ? `package-${row.type}-${row.variant}` : `package-${row.type}`}
      title={row.version ? `${row.name} ${row.version}` : row.name}
      status={row.status}
      errorLog={row.errorLog}
      actions={{ retry: () => client.packages.retry.mutate({ id: row.id }), remove: () => client.packages.remove.mutate({ id: row.id }) }}
      confirmRemove={<RemovalSummary what={what} row={row} />}
    >
      {row.requiredBy.length ? (
        <p className="mt-1 text-xs text-slate-500" data-testid="required-by">
          Needed by {row.requiredBy.join(", ")}.
        </p>
      ) : null}
      {row.secrets.length ? (
        <div className="mt-2 space-y-1" aria-label={`${what} secrets`}>
          {row.secrets.map((name) => (
            <SecretReveal key={name} rowId={row.id} name={name} />
          ))}
        </div>
      ) : null}
      {deployKey ? <DeployKey publicKey={deployKey} /> : null}
    </ResourceRow>
  );
}

/** What goes with a removal, in the words of the package's remove plan, and what still needs it. */
function RemovalSummary({ what, row }: { what: string; row: PackageRow }) {
  return (
    <div className="space-y-1">
      <p className="font-medium">Remove {what} from the server?</p>
      {row.removal?.length ? (
        <ul className="list-disc pl-5 text-xs" data-testid="removal-plan">
          {row.removal.map((m, i) => (
            <li key={i}>
              {m.label}
              {m.steps.length ? `: ${m.steps.join("; ")}` : ""}
            </li>
          ))}
        </ul>
      ) : null}
      {row.requiredBy.length ? (
        <p className="text-xs" data-testid="removal-required-by">
          {row.requiredBy.join(", ")} still {row.requiredBy.length === 1 ? "needs" : "need"} it: the removal is refused until{" "}
          {row.requiredBy.length === 1 ? "that is" : "they are"} removed.
        </p>
      ) : null}
    </div>
  );
}

/**
 * One generated secret: its name, and its value only after the owner asks (a mutation, so
 * nothing caches it); the value lives in this component's state and is gone on reload.
 */
function SecretReveal({ rowId, name }: { rowId: string; name: string }) {
  const client = useTRPCClient();
  const reveal = useApiAction();
  const [value, setValue] = useState<string | null>(null);
  const id = `secret-${name.replace(/\W/g, "-")}`;
  return (
    <div className="flex flex-wrap items-center gap-2 text-xs" data-testid={`secret-${name}`}>
      <label htmlFor={id} className="font-mono text-slate-600">
        {name}
      </label>
      {value === null ? (
        <>
          <span className="text-slate-400" aria-hidden>
            ••••••••
          </span>
          <button
            type="button"
            disabled={reveal.pending}
            onClick={() =>
              void reveal.run(async () => {
                const secret = await client.packages.revealSecret.mutate({ id: rowId, name });
                setValue(secret.value);
              })
            }
            className="rounded-md border border-slate-300 px-2.5 py-1 font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50"
          >
            Reveal
          </button>
        </>
      ) : (
        <>
          <input
            id={id}
            readOnly
            value={value}
            onFocus={(e) => e.currentTarget.select()}
            className="w-80 max-w-full rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono"
          />
          <CopyButton text={value} />
          <button
            type="button"
            onClick={() => setValue(null)}
            className="rounded-md border border-slate-300 px-2.5 py-1 font-medium text-slate-700 hover:bg-slate-50"
          >
            Hide
          </button>
        </>
      )}
      {reveal.error ? (
        <span className="text-red-700" role="alert">
          {reveal.error}
        </span>
      ) : null}
    </div>
  );
}

/** The public half of the key the site user's deploys clone with (recorded by the site_user install). */
function deployKeyOf(row: PackageRow): string | null {
  const configuration = row.configuration;
  if (!configuration || typeof configuration !== "object" || Array.isArray(configuration)) return null;
  const key = (configuration as Record<string, unknown>).deployKey;
  return typeof key === "string" && key.trim() ? key.trim() : null;
}

function DeployKey({ publicKey }: { publicKey: string }) {
  return (
    <div className="mt-2 space-y-1" data-testid="deploy-key">
      <label htmlFor="deploy-key" className="block text-xs font-medium text-slate-700">
        Deploy key
      </label>
      <div className="flex flex-wrap items-center gap-2">
        <input
          id="deploy-key"
          readOnly
          value={publicKey}
          onFocus={(e) => e.currentTarget.select()}
          className="min-w-0 flex-1 rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono text-xs"
        />
        <CopyButton text={publicKey} />
      </div>
      <p className="text-xs text-slate-500">
        Add this as a deploy key to your git host (GitHub and GitLab: the repository&apos;s settings, Deploy keys; read access is enough),
        so the brokeforge user can clone your sites&apos; repositories. The private half never leaves the server.
      </p>
    </div>
  );
}
