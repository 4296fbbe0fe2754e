// How a deployment reads on the site page and the dashboard: its status in deploy words
// ("Deploying" for a queued or running deploy, "Failed (rolled back)" when the health check put
// the previous release back), short commit shas, durations and times.
import { Link } from "@remix-run/react";
import { commitUrl } from "../../domain/git-hosts";
import type { TaskStatus } from "../../domain/status";
import { StatusBadge } from "./status";

type Look = { label: string; className: string; icon: string };

const DEPLOYING: Look = { label: "Deploying", className: "bg-blue-100 text-blue-800", icon: "spinner" };

const ROLLING_BACK: Look = { label: "Rolling back", className: "bg-indigo-100 text-indigo-800", icon: "spinner" };

/** What a deployment row shows: its status, whether the health check rolled it back, and whether it finished a deploy once. */
export interface DeploymentState {
  status: TaskStatus;
  rolledBack: boolean;
  finishedAt: Date | string | null;
}

/**
 * A deploy in progress: queued behind other work on the server (pending), or running
 * (updating). A rollback also runs as "updating", but on a release whose deploy finished.
 */
export const isDeploying = (d: DeploymentState) =>
  d.status === "pending" || d.status === "installing" || (d.status === "updating" && !d.finishedAt);

function lookOf(d: DeploymentState): Look {
  if (isDeploying(d)) return DEPLOYING;
  switch (d.status) {
    case "pending":
    case "installing":
    case "updating":
      return ROLLING_BACK;
    case "success":
    case "active":
      return { label: "Success", className: "bg-emerald-100 text-emerald-800", icon: "✓" };
    case "failed":
      return d.rolledBack
        ? { label: "Failed (rolled back)", className: "bg-amber-100 text-amber-900", icon: "↶" }
        : { label: "Failed", className: "bg-red-100 text-red-800", icon: "✕" };
    case "removing":
      return { label: "Pruning", className: "bg-orange-100 text-orange-800", icon: "spinner" };
    case "paused":
      return { label: "Paused", className: "bg-yellow-100 text-yellow-800", icon: "❚❚" };
  }
}

export function DeploymentBadge({ deployment }: { deployment: DeploymentState }) {
  const look = lookOf(deployment);
  return (
    <span
      data-testid="deployment-status"
      data-status={deployment.status}
      className={`inline-flex items-center gap-1 whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ${look.className}`}
    >
      {look.icon === "spinner" ? (
        <span aria-hidden className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" />
      ) : (
        <span aria-hidden>{look.icon}</span>
      )}
      {look.label}
    </span>
  );
}

export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 7) : null);

/**
 * A commit's short sha: a link to its page when the repository is on a web host we know
 * (domain/git-hosts.ts), plain text otherwise. (The site's current repository: a deploy row does
 * not record the address it was cloned from.)
 */
export function CommitSha({ sha, repository }: { sha: string; repository: string | null }) {
  const url = commitUrl(repository, sha);
  return url ? (
    <a
      href={url}
      target="_blank"
      rel="noreferrer"
      className="font-mono text-xs text-blue-700 hover:underline"
      title={sha}
      data-testid="commit-link"
    >
      {shortSha(sha)}
    </a>
  ) : (
    <code className="text-xs" title={sha}>
      {shortSha(sha)}
    </code>
  );
}

/** "850 ms", "12.3 s", "2 min 5 s". */
export function formatDuration(ms: number | null | undefined): string | null {
  if (ms == null) return null;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A time as the reader's locale writes it (loader JSON carries dates as strings). */
export function formatTime(at: Date | string | null | undefined): string | null {
  return at ? new Date(at).toLocaleString() : null;
}

/** A site in a list (the dashboard's, a server's): domain, what `detail` adds, last deploy, live sha, status. */
export function SiteLink(props: {
  site: { id: string; domain: string; status: TaskStatus; lastDeployedAt: Date | string | null; activeSha: string | null };
  detail: React.ReactNode;
}) {
  const { site } = props;
  return (
    <Link to={`/sites/${site.id}`} className="flex flex-wrap items-center gap-x-4 gap-y-1 px-4 py-3 hover:bg-slate-50">
      <span className="min-w-0 break-all font-medium">{site.domain}</span>
      {props.detail}
      <span className="ml-auto flex flex-wrap items-center gap-2 text-xs text-slate-500">
        <span data-testid="last-deploy">{site.lastDeployedAt ? `Deployed ${formatTime(site.lastDeployedAt)}` : "Never deployed"}</span>
        {site.activeSha ? <code data-testid="sha">{shortSha(site.activeSha)}</code> : null}
        <StatusBadge status={site.status} />
      </span>
    </Link>
  );
}
