// Links from a site's repository (the SSH address it is cloned from) to a commit's page on the
// repository's web host. Only hosts whose URL scheme is known (github.com, gitlab.com,
// bitbucket.org): any other host — a company GitLab, a self-hosted Gitea — gets no link rather
// than a guessed one that might 404 or point somewhere else.

/** The web hosts we link to, and where each shows a commit of `owner/…/repo`. */
const HOSTS: Record<string, { commit: (path: string, sha: string) => string; exactlyTwoSegments: boolean }> = {
  "github.com": { commit: (path, sha) => `https://github.com/${path}/commit/${sha}`, exactlyTwoSegments: true },
  // GitLab groups nest: group/subgroup/project.
  "gitlab.com": { commit: (path, sha) => `https://gitlab.com/${path}/-/commit/${sha}`, exactlyTwoSegments: false },
  "bitbucket.org": { commit: (path, sha) => `https://bitbucket.org/${path}/commits/${sha}`, exactlyTwoSegments: true },
};

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Host and repository path of `git@host:owner/repo.git` or `ssh://user@host[:port]/owner/repo.git`; null otherwise. */
function parseSshAddress(repository: string): { host: string; path: string } | null {
  const scp = /^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!\/)(.+)$/.exec(repository);
  const url = /^ssh:\/\/[A-Za-z0-9._-]+@([A-Za-z0-9.-]+)(?::\d{1,5})?\/(.+)$/.exec(repository);
  const m = scp ?? url;
  return m ? { host: m[1]!.toLowerCase(), path: m[2]! } : null;
}

/**
 * The https page of commit `sha` of `repository`, or null when the repository is not on a known
 * web host, its address is not an SSH address we read, or `sha` is not a commit id.
 */
export function commitUrl(repository: string | null | undefined, sha: string | null | undefined): string | null {
  if (!repository || !sha || !/^[0-9a-f]{7,64}$/.test(sha)) return null;
  const parsed = parseSshAddress(repository.trim());
  const host = parsed && HOSTS[parsed.host];
  if (!parsed || !host) return null;
  const segments = parsed.path
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .split("/");
  if (segments.length < 2 || (host.exactlyTwoSegments && segments.length !== 2)) return null;
  if (!segments.every((s) => SEGMENT.test(s) && s !== "." && s !== "..")) return null;
  return host.commit(segments.join("/"), sha);
}
