// A site: its status and live release, Deploy, the deployments with live badges and the
// rollback buttons the server offers (exactly its rollback candidates), the deploy log as it is
// produced, the shared .env (fetched only when the owner asks to edit it), site commands with
// their history, the deploy hook and the deploy key, and removal confirmed by typing the domain.
// Everything refetches on the server's live events (site, deployment, site_command).
import type { LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { Link, useLoaderData, useNavigate } from "@remix-run/react";
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { siteCommandInputSchema, siteSettingsSchema } from "../../domain/sites";
import { installedPhp, SiteFields, siteValues } from "../components/site-fields";
import { CopyButton } from "../components/copy-button";
import { CommitSha, DeploymentBadge, formatDuration, formatTime, isDeploying } from "../components/deployment";
import { LogViewer } from "../components/log-viewer";
import { StatusBadge } from "../components/status";
import { Button, Field, FormError } from "../components/ui";
import { attempt, requireApi } from "../lib/forms";
import { LiveIndicator, LiveUpdates } from "../lib/live";
import { useTRPC, useTRPCClient } from "../lib/trpc";
import { formObject, useApiAction, useApiForm } from "../lib/use-api-form";

export const meta: MetaFunction<typeof loader> = ({ data }) => [{ title: `${data?.site.site.domain ?? "Site"} · BrokeForge` }];

export async function loader({ request, context, params }: LoaderFunctionArgs) {
  const api = await requireApi(request, context);
  const result = await attempt(() => Promise.all([api.sites.byId({ id: params.id! }), api.siteCommands.list({ siteId: params.id! })]));
  if (!result.ok) throw new Response(result.formError, { status: 400 });
  const [site, commands] = result.data;
  return { site, commands };
}

type Loaded = ReturnType<typeof useLoaderData<typeof loader>>;
type SiteView = Loaded["site"];
type DeploymentRow = SiteView["deployments"][number];

const section = "rounded-lg border border-slate-200 bg-white p-4";
const smallButton =
  "rounded-md border border-slate-300 bg-white px-2.5 py-1 text-xs font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50";

export default function SitePage() {
  const loaded = useLoaderData<typeof loader>();
  return (
    <LiveUpdates serverId={loaded.site.site.serverId}>
      <SiteView />
    </LiveUpdates>
  );
}

function SiteView() {
  const loaded = useLoaderData<typeof loader>();
  const trpc = useTRPC();
  const id = loaded.site.site.id;
  const view = useQuery(trpc.sites.byId.queryOptions({ id }, { initialData: loaded.site })).data ?? loaded.site;
  const { site } = view;
  return (
    <div className="space-y-6" data-testid="site" data-status={site.status}>
      <div>
        <Link to={`/servers/${site.serverId}/sites`} className="text-sm text-slate-500 hover:underline">
          ← {view.server.name} · Sites
        </Link>
        <div className="mt-1 flex flex-wrap items-center gap-3">
          <h1 className="break-all text-2xl font-semibold">{site.domain}</h1>
          <StatusBadge status={site.status} />
          <LiveIndicator />
        </div>
        <p className="text-sm text-slate-600">
          <a href={`http://${site.domain}`} target="_blank" rel="noreferrer" className="text-blue-700 hover:underline">
            http://{site.domain}
          </a>
          {site.aliases.length ? <span className="text-slate-500"> · also {site.aliases.join(", ")}</span> : null}
          <span className="text-slate-500">
            {" "}
            · PHP {site.phpVersion} · serves {site.webDirectory}/
          </span>
        </p>
        {site.status === "failed" ? <RetrySite siteId={site.id} /> : null}
        {site.status === "failed" && site.errorLog ? (
          <pre
            className="mt-2 max-h-40 overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800"
            data-testid="error-log"
          >
            {site.errorLog}
          </pre>
        ) : null}
      </div>
      <Deployments view={view} />
      <Environment siteId={site.id} onServer={site.envOnServer} />
      <Commands siteId={site.id} initial={loaded.commands} />
      <Settings view={view} />
      <DeployHook view={view} />
      <DeployKey publicKey={view.deployKey} repository={site.repository} />
      <RemoveSite siteId={site.id} serverId={site.serverId} domain={site.domain} />
    </div>
  );
}

/** A site whose setup on the server failed: set it up again (after fixing what the error says). */
function RetrySite({ siteId }: { siteId: string }) {
  const client = useTRPCClient();
  const retry = useApiAction();
  return (
    <div className="mt-2 flex flex-wrap items-center gap-2">
      <span className="text-sm text-red-800">Setting the site up on the server failed.</span>
      <button
        type="button"
        className={smallButton}
        disabled={retry.pending}
        onClick={() => void retry.run(() => client.sites.retry.mutate({ id: siteId }))}
      >
        Retry
      </button>
      <FormError message={retry.error} />
    </div>
  );
}

function Deployments({ view }: { view: SiteView }) {
  const client = useTRPCClient();
  const deploy = useApiAction();
  const rollback = useApiAction();
  const [selected, setSelected] = useState<string | null>(null);
  // The row whose log was asked for on an older page (not in `deployments`, the newest page).
  const [olderSelected, setOlderSelected] = useState<DeploymentRow | null>(null);
  const [showOlder, setShowOlder] = useState(false);
  const { site, deployments, activeDeployment: active } = view;
  const candidates = new Set(view.rollbackCandidates.map((c) => c.id));
  const deploying = deployments.some(isDeploying);
  const shown =
    deployments.find((d) => d.id === selected) ?? (olderSelected?.id === selected ? olderSelected : null) ?? deployments[0] ?? null;
  const select = (d: DeploymentRow) => {
    setSelected(d.id);
    setOlderSelected(deployments.some((x) => x.id === d.id) ? null : d);
  };
  const item = (d: DeploymentRow) => (
    <DeploymentItem
      key={d.id}
      deployment={d}
      repository={site.repository}
      active={active?.id === d.id}
      selected={shown?.id === d.id}
      onShowLog={() => select(d)}
      rollback={
        candidates.has(d.id) ? () => void rollback.run(() => client.deployments.rollback.mutate({ id: d.id }).then(() => select(d))) : null
      }
      busy={rollback.pending}
    />
  );
  return (
    <section className={section} aria-labelledby="deployments-heading">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="deployments-heading" className="font-medium">
          Deployments
        </h2>
        <Button
          className="ml-auto"
          disabled={deploy.pending || deploying || !site.repository || site.status === "removing"}
          onClick={() =>
            void deploy.run(async () => {
              const started = await client.sites.deploy.mutate({ id: site.id });
              setSelected(started.deploymentId);
            })
          }
        >
          {deploying ? (
            <span className="inline-flex items-center gap-2">
              <span aria-hidden className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" />
              Deploying
            </span>
          ) : (
            "Deploy"
          )}
        </Button>
      </div>
      {!site.repository ? <p className="mt-1 text-xs text-slate-500">Set the site&apos;s repository to deploy it.</p> : null}
      {deploy.error || rollback.error ? <FormError message={deploy.error ?? rollback.error} /> : null}

      <div className="mt-3 rounded-md bg-slate-50 p-3 text-sm" data-testid="active-deployment">
        {active ? (
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
            <span className="text-slate-500">Live:</span>
            <span className="font-mono text-xs">{active.release}</span>
            {active.commitSha ? <CommitSha sha={active.commitSha} repository={site.repository} /> : null}
            {active.commitMessage ? <span className="min-w-0 break-words">{active.commitMessage}</span> : null}
            <span className="text-xs text-slate-500">{formatTime(active.finishedAt ?? active.createdAt)}</span>
          </div>
        ) : (
          <span className="text-slate-500">Nothing deployed yet.</span>
        )}
      </div>

      {deployments.length ? (
        <ul className="mt-3 divide-y divide-slate-100 rounded-md border border-slate-100" aria-label="Deployment history">
          {deployments.map(item)}
          {view.nextCursor ? (
            showOlder ? (
              <OlderDeployments siteId={site.id} cursor={view.nextCursor} item={item} />
            ) : (
              <OlderButton onClick={() => setShowOlder(true)} />
            )
          ) : null}
        </ul>
      ) : null}
      {shown ? <DeploymentLog deployment={shown} /> : null}
    </section>
  );
}

/** Asks for the page of deployments before the ones shown. */
function OlderButton({ onClick }: { onClick: () => void }) {
  return (
    <li className="px-3 py-2 text-center">
      <button type="button" className={smallButton} onClick={onClick}>
        Older deployments
      </button>
    </li>
  );
}

/**
 * The page of deployments from `cursor` on (sites.deployments, refetched on live events like the
 * rest of the page), then, when there are older ones still, their own "Older deployments".
 */
function OlderDeployments({ siteId, cursor, item }: { siteId: string; cursor: string; item: (d: DeploymentRow) => React.ReactNode }) {
  const trpc = useTRPC();
  const page = useQuery(trpc.sites.deployments.queryOptions({ id: siteId, cursor }));
  const [showOlder, setShowOlder] = useState(false);
  if (!page.data) {
    return (
      <li className="px-3 py-2 text-center text-xs text-slate-500">
        {page.error ? `Could not load older deployments: ${page.error.message}` : "Loading older deployments…"}
      </li>
    );
  }
  const { deployments, nextCursor } = page.data;
  return (
    <>
      {deployments.map(item)}
      {nextCursor ? (
        showOlder ? (
          <OlderDeployments siteId={siteId} cursor={nextCursor} item={item} />
        ) : (
          <OlderButton onClick={() => setShowOlder(true)} />
        )
      ) : null}
    </>
  );
}

function DeploymentItem(props: {
  deployment: DeploymentRow;
  repository: string | null;
  active: boolean;
  selected: boolean;
  onShowLog: () => void;
  rollback: (() => void) | null;
  busy: boolean;
}) {
  const d = props.deployment;
  return (
    <li
      className={`flex flex-wrap items-center gap-x-3 gap-y-1 px-3 py-2 text-sm ${props.selected ? "bg-blue-50/50" : ""}`}
      data-testid={`deployment-${d.release}`}
      data-status={d.status}
    >
      <span className="font-mono text-xs">{d.release}</span>
      {props.active ? <span className="rounded bg-green-100 px-1.5 text-xs text-green-800">live</span> : null}
      {d.commitSha ? <CommitSha sha={d.commitSha} repository={props.repository} /> : null}
      {d.commitMessage ? <span className="min-w-0 max-w-full truncate text-slate-700">{d.commitMessage}</span> : null}
      <span className="text-xs text-slate-500">
        {d.branch} · {d.trigger} · {formatTime(d.startedAt ?? d.createdAt)}
        {d.durationMs != null ? ` · ${formatDuration(d.durationMs)}` : ""}
      </span>
      <span className="ml-auto flex items-center gap-2">
        <DeploymentBadge deployment={d} />
        <button type="button" className={smallButton} onClick={props.onShowLog} aria-pressed={props.selected}>
          Log
        </button>
        {props.rollback ? (
          <button type="button" className={smallButton} disabled={props.busy} onClick={props.rollback}>
            Roll back
          </button>
        ) : null}
      </span>
    </li>
  );
}

/** The deployment's log, streamed live while it runs (its operation's output). */
function DeploymentLog({ deployment }: { deployment: DeploymentRow }) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.deployments.byId.queryOptions({ id: deployment.id })).data;
  return (
    <div className="mt-3 space-y-1" data-testid="deployment-log">
      <p className="text-xs text-slate-500">
        Log of <span className="font-mono">{deployment.release}</span>
        {detail?.logPath ? (
          <>
            {" "}
            · on the server: <span className="break-all font-mono">{detail.logPath}</span>
          </>
        ) : null}
      </p>
      {detail?.operationId ? (
        <LogViewer operationId={detail.operationId} heightPx={320} />
      ) : (
        <p className="text-xs text-slate-400">No log yet.</p>
      )}
      {deployment.status === "failed" && deployment.errorLog ? (
        <pre className="max-h-40 overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800">{deployment.errorLog}</pre>
      ) : null}
    </div>
  );
}

/**
 * The shared .env: fetched by a call when the owner clicks "Edit .env" (not a cached query),
 * held in this component's state only, and gone when the editor closes.
 */
function Environment({ siteId, onServer }: { siteId: string; onServer: boolean }) {
  const client = useTRPCClient();
  const load = useApiAction();
  const save = useApiAction();
  const [text, setText] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  return (
    <section className={section} aria-labelledby="env-heading">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="env-heading" className="font-medium">
          Environment (.env)
        </h2>
        {text === null ? (
          <button
            type="button"
            className={`${smallButton} ml-auto`}
            disabled={load.pending}
            onClick={() =>
              void load.run(async () => {
                const { env } = await client.sites.env.mutate({ id: siteId });
                setSaved(false);
                setText(env);
              })
            }
          >
            Edit .env
          </button>
        ) : null}
      </div>
      <p className="mt-1 text-xs text-slate-500">
        Shared by every release and stored encrypted; saving writes it to the server, and the next deploy uses it.
      </p>
      {saved ? (
        <p className="mt-2 text-xs text-green-700" role="status" data-testid="env-saved">
          {onServer ? "Saved and written to the server." : "Saved. Writing it to the server…"}
        </p>
      ) : !onServer ? (
        <p className="mt-2 text-xs text-slate-500" data-testid="env-pending">
          The last change is not on the server yet.
        </p>
      ) : null}
      <FormError message={load.error} />
      {text !== null ? (
        <form
          className="mt-3 space-y-2"
          onSubmit={(e) => {
            e.preventDefault();
            void save.run(async () => {
              await client.sites.setEnv.mutate({ id: siteId, env: text });
              setText(null);
              setSaved(true);
            });
          }}
        >
          <label htmlFor="site-env" className="sr-only">
            .env
          </label>
          <textarea
            id="site-env"
            value={text}
            onChange={(e) => setText(e.target.value)}
            rows={Math.min(20, Math.max(6, text.split("\n").length + 1))}
            spellCheck={false}
            autoComplete="off"
            className="block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-xs shadow-sm focus:outline-none focus:ring-2 focus:ring-blue-200"
          />
          <FormError message={save.error} />
          <div className="flex gap-2">
            <Button type="submit" disabled={save.pending}>
              Save .env
            </Button>
            <Button type="button" variant="secondary" onClick={() => setText(null)}>
              Cancel
            </Button>
          </div>
        </form>
      ) : null}
    </section>
  );
}

function Commands({ siteId, initial }: { siteId: string; initial: Loaded["commands"] }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const commands = useQuery(trpc.siteCommands.list.queryOptions({ siteId }, { initialData: initial })).data ?? initial;
  // A running command's output streams live until it ends (whoever started it: the list carries
  // each command's operation); runs started here show at once, before the list is refetched.
  const [started, setStarted] = useState<Record<string, string>>({});
  const track = (run: { id: string; operationId: string }) => setStarted((s) => ({ ...s, [run.id]: run.operationId }));
  const form = useApiForm(siteCommandInputSchema, async (input) => track(await client.siteCommands.run.mutate(input)));
  const rerun = useApiAction();
  return (
    <section className={section} aria-labelledby="commands-heading">
      <h2 id="commands-heading" className="font-medium">
        Commands
      </h2>
      <p className="mt-1 text-xs text-slate-500">Run in the live release as the brokeforge user, e.g. php artisan cache:clear.</p>
      <form
        noValidate
        className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-[1fr_10rem_auto] sm:items-start"
        onSubmit={async (e) => {
          e.preventDefault();
          const el = e.currentTarget;
          if (await form.submit({ ...formObject(el), siteId })) el.reset();
        }}
      >
        <Field label="Command" name="command" error={form.fieldErrors.command} />
        <Field label="Timeout (seconds)" name="timeoutSeconds" type="number" defaultValue={600} error={form.fieldErrors.timeoutSeconds} />
        <div className="sm:pt-6">
          <Button type="submit" disabled={form.pending}>
            Run
          </Button>
        </div>
        <div className="sm:col-span-3">
          <FormError message={form.formError ?? rerun.error} />
        </div>
      </form>
      {commands.length ? (
        <ul className="mt-3 divide-y divide-slate-100 rounded-md border border-slate-100" aria-label="Command history">
          {commands.map((c) => (
            <li key={c.id} className="space-y-1 px-3 py-2 text-sm" data-testid="site-command" data-status={c.status}>
              <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
                <code className="min-w-0 break-all text-xs">{c.command}</code>
                <span className="text-xs text-slate-500">
                  {formatTime(c.startedAt ?? c.createdAt)}
                  {c.durationMs != null ? ` · ${formatDuration(c.durationMs)}` : ""}
                  {c.exitCode != null ? ` · exit ${c.exitCode}` : ""}
                </span>
                <span className="ml-auto flex items-center gap-2">
                  <StatusBadge status={c.status} />
                  <button
                    type="button"
                    className={smallButton}
                    disabled={rerun.pending}
                    onClick={() => void rerun.run(async () => track(await client.siteCommands.rerun.mutate({ id: c.id })))}
                  >
                    Re-run
                  </button>
                </span>
              </div>
              {(c.status === "pending" || c.status === "installing") && (c.operationId ?? started[c.id]) ? (
                <LogViewer operationId={(c.operationId ?? started[c.id])!} heightPx={200} />
              ) : null}
              {c.stdout ? (
                <pre className="max-h-60 overflow-auto whitespace-pre-wrap rounded bg-slate-900 p-2 text-xs text-slate-100">{c.stdout}</pre>
              ) : null}
              {c.stderr ? (
                <pre className="max-h-60 overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800">{c.stderr}</pre>
              ) : null}
              {c.status === "failed" && c.errorLog && !c.stderr ? (
                <pre className="max-h-40 overflow-auto whitespace-pre-wrap rounded bg-red-50 p-2 text-xs text-red-800">{c.errorLog}</pre>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** The site's settings; saving queues the site's update, which applies them on the server. */
function Settings({ view }: { view: SiteView }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const { site } = view;
  const packages = useQuery(trpc.packages.list.queryOptions({ serverId: site.serverId })).data ?? [];
  const [open, setOpen] = useState(false);
  const [saved, setSaved] = useState(false);
  // Checked like the create form; sent as typed, so an emptied repository or health check clears it.
  type UpdateInput = Parameters<typeof client.sites.update.mutate>[0];
  const sent = useRef<Record<string, unknown>>({});
  const form = useApiForm(siteSettingsSchema, () => client.sites.update.mutate({ ...sent.current, id: site.id } as UpdateInput));
  return (
    <section className={section} aria-labelledby="settings-heading">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="settings-heading" className="font-medium">
          Settings
        </h2>
        <span className="min-w-0 break-all text-xs text-slate-500">
          {site.repository ? `${site.repository} (${site.branch})` : "No repository"}
          {site.healthCheckPath ? ` · health check ${site.healthCheckPath}` : ""}
        </span>
        <span className="text-xs text-slate-500" data-testid="keep-releases">
          keeps {site.keepReleases} releases
        </span>
        {!open ? (
          <div className="ml-auto flex gap-2">
            <PruneNow siteId={site.id} status={site.status} />
            <button type="button" className={smallButton} onClick={() => (setOpen(true), setSaved(false))}>
              Edit settings
            </button>
          </div>
        ) : null}
      </div>
      {saved ? (
        <p className="mt-2 text-xs text-green-700" role="status">
          Saved. The site is being updated on the server.
        </p>
      ) : null}
      {open ? (
        <form
          noValidate
          className="mt-3 grid grid-cols-1 gap-3 sm:grid-cols-2"
          onSubmit={async (e) => {
            e.preventDefault();
            const values = siteValues(formObject(e.currentTarget));
            sent.current = values;
            if (await form.submit(values)) {
              setOpen(false);
              setSaved(true);
            }
          }}
        >
          <SiteFields errors={form.fieldErrors} phpVersions={installedPhp(packages)} defaults={site} />
          <div className="sm:col-span-2">
            <FormError message={form.formError} />
          </div>
          <div className="flex gap-2">
            <Button type="submit" disabled={form.pending}>
              Save settings
            </Button>
            <Button type="button" variant="secondary" onClick={() => setOpen(false)}>
              Cancel
            </Button>
          </div>
        </form>
      ) : null}
    </section>
  );
}

/** Deletes the releases beyond the site's retention now (the site's prune, on the server's queue); each deploy does it too. */
function PruneNow({ siteId, status }: { siteId: string; status: string }) {
  const client = useTRPCClient();
  const prune = useApiAction();
  if (status !== "active") return null;
  return (
    <>
      <FormError message={prune.error} />
      <button
        type="button"
        className={smallButton}
        disabled={prune.pending}
        title="Delete the old releases beyond the ones this site keeps"
        onClick={() => void prune.run(() => client.sites.prune.mutate({ id: siteId }))}
      >
        Prune now
      </button>
    </>
  );
}

function DeployHook({ view }: { view: SiteView }) {
  const client = useTRPCClient();
  const regenerate = useApiAction();
  const secret = useApiAction();
  const [secretSaved, setSecretSaved] = useState(false);
  const url = view.deployHookUrl;
  return (
    <section className={section} aria-labelledby="hook-heading">
      <h2 id="hook-heading" className="font-medium">
        Deploy hook
      </h2>
      <p className="mt-1 text-xs text-slate-500">POST to this URL to deploy (from CI, or as a push webhook of your git host).</p>
      <div className="mt-2 flex flex-wrap items-center gap-2">
        <label htmlFor="deploy-hook-url" className="sr-only">
          Deploy hook URL
        </label>
        <input
          id="deploy-hook-url"
          readOnly
          value={url}
          data-testid="deploy-hook-url"
          onFocus={(e) => e.currentTarget.select()}
          className="min-w-0 flex-1 rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono text-xs"
        />
        <CopyButton text={url} />
        <button
          type="button"
          className={smallButton}
          disabled={regenerate.pending}
          onClick={() => {
            if (!confirm("Regenerate the deploy URL? The current one stops working at once.")) return;
            void regenerate.run(() => client.sites.regenerateDeployToken.mutate({ id: view.site.id }));
          }}
        >
          Regenerate
        </button>
      </div>
      <FormError message={regenerate.error} />
      <form
        className="mt-3 flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          const el = e.currentTarget;
          const value = String(new FormData(el).get("webhookSecret") ?? "");
          void secret.run(async () => {
            await client.sites.setWebhookSecret.mutate({ id: view.site.id, secret: value || null });
            el.reset();
            setSecretSaved(true);
          });
        }}
      >
        <div className="min-w-0 flex-1 space-y-1">
          <label htmlFor="webhook-secret" className="block text-xs font-medium text-slate-700">
            Webhook secret {view.site.hasWebhookSecret ? "(set)" : "(none)"}
          </label>
          <input
            id="webhook-secret"
            name="webhookSecret"
            type="password"
            autoComplete="off"
            onChange={() => setSecretSaved(false)}
            className="block w-full rounded-md border border-slate-300 px-2 py-1 text-xs"
          />
        </div>
        <button type="submit" className={smallButton} disabled={secret.pending}>
          Save secret
        </button>
      </form>
      <p className="mt-1 text-xs text-slate-500">
        With a secret, a request must carry its HMAC signature (GitHub&apos;s X-Hub-Signature-256, or GitLab&apos;s X-Gitlab-Token). Save it
        empty to remove it.
      </p>
      {secretSaved ? (
        <p className="text-xs text-green-700" role="status">
          Saved.
        </p>
      ) : null}
      <FormError message={secret.error} />
    </section>
  );
}

function DeployKey({ publicKey, repository }: { publicKey: string | null; repository: string | null }) {
  return (
    <section className={section} aria-labelledby="deploy-key-heading" data-testid="deploy-key">
      <h2 id="deploy-key-heading" className="font-medium">
        Deploy key
      </h2>
      {publicKey ? (
        <>
          <div className="mt-2 flex flex-wrap items-center gap-2">
            <label htmlFor="site-deploy-key" className="sr-only">
              Deploy key
            </label>
            <input
              id="site-deploy-key"
              readOnly
              value={publicKey}
              onFocus={(e) => e.currentTarget.select()}
              className="min-w-0 flex-1 rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono text-xs"
            />
            <CopyButton text={publicKey} />
          </div>
          <p className="mt-1 text-xs text-slate-500">
            Add this as a deploy key to your repository{repository ? ` (${repository})` : ""}: on GitHub and GitLab, the repository&apos;s
            settings, Deploy keys; read access is enough. The server&apos;s brokeforge user clones with it; the private half never leaves
            the server.
          </p>
        </>
      ) : (
        <p className="mt-1 text-xs text-slate-500">
          The server has no deploy key yet: it is made when the site user is installed (provisioning as a web server does it).
        </p>
      )}
    </section>
  );
}

function RemoveSite({ siteId, serverId, domain }: { siteId: string; serverId: string; domain: string }) {
  const client = useTRPCClient();
  const remove = useApiAction();
  const navigate = useNavigate();
  const [typed, setTyped] = useState("");
  return (
    <section className="rounded-lg border border-red-200 bg-white p-4" aria-labelledby="remove-heading">
      <h2 id="remove-heading" className="font-medium text-red-800">
        Remove site
      </h2>
      <p className="mt-1 text-xs text-slate-600">
        Removes its nginx server block, then its releases, shared files and .env from the server. The deployment records are kept.
      </p>
      <form
        className="mt-2 flex flex-wrap items-end gap-2"
        onSubmit={(e) => {
          e.preventDefault();
          void remove.run(async () => {
            await client.sites.remove.mutate({ id: siteId, confirmDomain: typed });
            navigate(`/servers/${serverId}/sites`);
          });
        }}
      >
        <div className="min-w-0 flex-1 space-y-1">
          <label htmlFor="confirm-domain" className="block text-xs font-medium text-slate-700">
            Type {domain} to confirm
          </label>
          <input
            id="confirm-domain"
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
            autoComplete="off"
            className="block w-full rounded-md border border-slate-300 px-2 py-1 text-sm"
          />
        </div>
        <Button type="submit" variant="danger" disabled={remove.pending || typed.trim() !== domain}>
          Remove site
        </Button>
      </form>
      <FormError message={remove.error} />
    </section>
  );
}
