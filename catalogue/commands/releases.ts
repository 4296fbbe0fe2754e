// Sites, releases and site commands on the server: pure builders of argv steps, and the fixed
// shell snippets they run (user values only ever as positional parameters, "$1"…).
//
// Layout (domain/sites.ts): /home/brokeforge/deployments/<domain>/{shared/…, placeholder/,
// <release>/…} and /home/brokeforge/<domain>, the live link to one of those release dirs.
// Everything inside /home/brokeforge is done AS the site user (runuser), never as root: the home
// belongs to a user whose code (a site's PHP, a deploy script) may be hostile, and root
// following a symlink planted there would delete or write a file of root's choosing
// (see catalogue/packages/site-user.ts). nginx's files and service reloads are root's work.
//
// Not exported from ./index: site-user.ts (which this reads for the user and its deploy key)
// imports that index, and the cycle would leave one of them half-initialized.
import { branchSchema, DEPLOYMENTS_HOME, RELEASE_NAME, repositorySchema, SITES_HOME } from "../../domain/sites";
import { step, type Step } from "../kit";
import { DEPLOY_KEY, SITE_HOME, SITE_USER } from "../packages/site-user";
import { WRITE_FILE } from "./files";

// --- values checked before they reach argv ----------------------------------------------------

const LABEL = "(?!-)[a-z0-9-]{1,63}(?<!-)";
const DOMAIN = new RegExp(`^(?=.{1,253}$)${LABEL}(\\.${LABEL})+$`);
const RELATIVE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function assertDomain(domain: string): void {
  if (!DOMAIN.test(domain)) throw new Error(`sites: bad domain ${JSON.stringify(domain)}`);
}

/** A path inside a release ("public", "storage", ".env", "config/app.yml"): never absolute, never "..". */
export function assertRelative(path: string, what = "path"): void {
  if (!RELATIVE.test(path) || path.split("/").some((p) => p === "." || p === "..")) {
    throw new Error(`sites: bad ${what} ${JSON.stringify(path)}`);
  }
}

export function assertRepository(repository: string): void {
  const parsed = repositorySchema.safeParse(repository);
  if (!parsed.success || parsed.data !== repository) throw new Error(`sites: bad repository ${JSON.stringify(repository)}`);
}

export function assertBranch(branch: string): void {
  const parsed = branchSchema.safeParse(branch);
  if (!parsed.success || parsed.data !== branch) throw new Error(`sites: bad branch ${JSON.stringify(branch)}`);
}

export function assertPhpVersion(version: string): void {
  if (!/^\d\.\d{1,2}$/.test(version)) throw new Error(`sites: bad PHP version ${JSON.stringify(version)}`);
}

/** A row id (cuid) used in a path. */
export function assertId(id: string): void {
  if (!/^[a-z0-9]{1,40}$/i.test(id)) throw new Error(`sites: bad id ${JSON.stringify(id)}`);
}

// --- where things are -------------------------------------------------------------------------

/** The live link: /home/brokeforge/<domain> → the active release. */
export function liveLink(domain: string): string {
  assertDomain(domain);
  return `${SITES_HOME}/${domain}`;
}

/** /home/brokeforge/deployments/<domain>: shared/, placeholder/ and the releases. */
export function siteDir(domain: string): string {
  assertDomain(domain);
  return `${DEPLOYMENTS_HOME}/${domain}`;
}

export const sharedDir = (domain: string) => `${siteDir(domain)}/shared`;
/** The release a new site's link points to until its first deploy. */
export const placeholderDir = (domain: string) => `${siteDir(domain)}/placeholder`;

/** The deploy logs: beside the releases, so a log outlives its failed release's directory (and goes when the release is pruned). */
export const logsDir = (domain: string) => `${siteDir(domain)}/logs`;

/** `<siteDir>/logs/<release>.log`: a deploy's whole log on the server. */
export function deployLogPath(domain: string, release: string): string {
  if (!RELEASE_NAME.test(release)) throw new Error(`sites: bad release ${JSON.stringify(release)}`);
  return `${logsDir(domain)}/${release}.log`;
}

/** A release directory of the site: `<siteDir>/<release name>`, nothing else (never the shared dir, never outside). */
export function assertReleasePath(domain: string, path: string): void {
  const base = `${siteDir(domain)}/`;
  const name = path.startsWith(base) ? path.slice(base.length) : "";
  if (!RELEASE_NAME.test(name)) throw new Error(`sites: bad release path ${JSON.stringify(path)} for ${domain}`);
}

/**
 * A shared path is a FILE when its last segment starts with "." or contains a "." (.env,
 * auth.json, config/app.yml), else a DIRECTORY (storage, public/uploads). A user who shares a
 * directory named like "cache.d" gets a file: the settings form says so.
 */
export function sharedKind(path: string): "file" | "dir" {
  const last = path.split("/").pop() ?? "";
  return last.startsWith(".") || last.includes(".") ? "file" : "dir";
}

/** From `<release>/<path>` back to `<siteDir>/shared/<path>`, relative (the release dir may be renamed or moved with the site). */
export function sharedLinkTarget(path: string): string {
  assertRelative(path, "shared path");
  return `${"../".repeat(path.split("/").length)}shared/${path}`;
}

// --- snippets ---------------------------------------------------------------------------------

/** A step run as the site user. `runuser -u` keeps root's PATH; HOME is set where it matters. */
export const asSiteUser = (label: string, ...argv: string[]): Step => step(label, "runuser", "-u", SITE_USER, "--", ...argv);

// $1 shared dir, then pairs: "file" or "dir", and a path inside it. Directories 755 (nginx may
// serve from one, e.g. Laravel's storage/app/public); files are made empty, 600, and an
// existing one is never touched (it is the site's .env, its uploads…).
export const ENSURE_SHARED = [
  "umask 022",
  'root=$1; shift; mkdir -p -- "$root" || exit 1',
  'while [ "$#" -ge 2 ]; do',
  '  kind=$1; p="$root/$2"; shift 2',
  '  if [ "$kind" = dir ]; then mkdir -p -- "$p" || exit 1; continue; fi',
  '  mkdir -p -- "${p%/*}" || exit 1',
  '  [ -e "$p" ] || [ -L "$p" ] || { (umask 077 && : > "$p") || exit 1; echo "created $p"; }',
  "done",
].join("\n");

// $1 placeholder release, $2 its web directory, $3 index.html, $4 the live link. The link is
// made only when there is none: a re-run (or a retried create) must never take a live release
// off the air. Made like every swap: a temporary link renamed over the name.
export const ENSURE_PLACEHOLDER = [
  "umask 022",
  'mkdir -p -- "$2" || exit 1',
  'f="$2/index.html"',
  'if ! { [ -f "$f" ] && printf \'%s\' "$3" | cmp -s - "$f"; }; then printf \'%s\' "$3" > "$f.brokeforge-tmp" && mv -f -- "$f.brokeforge-tmp" "$f" || exit 1; fi',
  'if [ -e "$4" ] || [ -L "$4" ]; then echo "$4 exists: it stays as it is"; exit 0; fi',
  'ln -sfn -- "$1" "$4.brokeforge-tmp" && mv -T -- "$4.brokeforge-tmp" "$4" || exit 1',
  'echo "$4 -> $1"',
].join("\n");

// $1 release dir, $2 the live link. The atomic swap: nginx and php-fpm see the old release or
// the new one, never a missing link (rename(2) over the old link). Safe to run twice.
export const SWAP = [
  '[ -d "$1" ] || { echo "$1 does not exist on the server" >&2; exit 1; }',
  'ln -sfn -- "$1" "$2.brokeforge-tmp" && mv -T -- "$2.brokeforge-tmp" "$2" || exit 1',
  'echo "$2 -> $1"',
].join("\n");

// $1 live link, then directories to delete. Whatever the database says, the directory the live
// link resolves to is never deleted. Best effort (always exits 0): a release that could not be
// deleted costs disk, never the deploy that already went live.
export const DELETE_UNLESS_LIVE = [
  'live=$(readlink -f -- "$1" 2>/dev/null) || live=""',
  "shift",
  'for r in "$@"; do',
  '  [ -e "$r" ] || [ -L "$r" ] || continue',
  '  if [ -n "$live" ] && [ "$(readlink -f -- "$r")" = "$live" ]; then echo "$r is live: kept" >&2; continue; fi',
  '  if rm -rf -- "$r"; then echo "deleted $r"; else echo "could not delete $r" >&2; fi',
  "done",
  "exit 0",
].join("\n");

// $1 release dir, $2 live link, $3 repository, $4 branch, $5 the git host as known_hosts names
// it. A directory of THIS release left by a failed attempt is deleted first (never the live
// one); the first clone from a git host pins its host key in the user's known_hosts
// (accept-new), and a changed key later is refused. ssh's warning alone names a command the
// user cannot type into BrokeForge, so a refusal also says what happened and what to do: a
// site command that forgets the pinned key (site commands run as this user, whose known_hosts
// it is). git's output is read whole (it is a few lines: no progress without a terminal).
export const CLONE = [
  "umask 022",
  'if [ -e "$1" ] || [ -L "$1" ]; then',
  '  live=$(readlink -f -- "$2" 2>/dev/null) || live=""',
  '  if [ -n "$live" ] && [ "$(readlink -f -- "$1")" = "$live" ]; then echo "$1 is the live release: not touched" >&2; exit 1; fi',
  '  rm -rf -- "$1" || exit 1',
  '  echo "Deleted what an earlier attempt left in $1"',
  "fi",
  'mkdir -p -- "${1%/*}" || exit 1',
  `export GIT_SSH_COMMAND='ssh -i ${DEPLOY_KEY} -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes'`,
  "export GIT_TERMINAL_PROMPT=0",
  'out=$(git clone --depth 1 --branch "$4" -- "$3" "$1" 2>&1) && { printf \'%s\\n\' "$out"; exit 0; }',
  "rc=$?",
  "printf '%s\\n' \"$out\" >&2",
  'case $out in *"REMOTE HOST IDENTIFICATION HAS CHANGED"*)',
  `  printf '%s\\n' "The SSH host key of the git host $5 is not the one pinned at the first clone (${SITE_HOME}/.ssh/known_hosts): nothing was deployed." \\`,
  "    \"If your git host really changed its key (check the new fingerprint with them), run this site command, then deploy again: ssh-keygen -R '$5'\" >&2 ;;",
  "esac",
  'exit "$rc"',
].join("\n");

// $1 release dir, then pairs: a shared path and its relative link target. The release's own
// copy (from git) goes; the link takes its place. A link already right is left alone.
export const LINK_SHARED = [
  "r=$1; shift",
  'while [ "$#" -ge 2 ]; do',
  '  p="$r/$1"; t=$2; shift 2',
  '  if [ -L "$p" ] && [ "$(readlink -- "$p")" = "$t" ]; then continue; fi',
  '  rm -rf -- "$p" && mkdir -p -- "${p%/*}" && ln -s -- "$t" "$p" || exit 1',
  '  echo "$p -> $t"',
  "done",
].join("\n");

// $1 release dir, $2 live link. vendor/ and node_modules/ of the live release are COPIED into a
// new release that has none, so composer and npm only add what changed. Not hard links:
// composer and npm may write files in place (patches, npm's package.json rewrites, a post-install
// build), which through a hard link would change the live release's files before the swap. Copied
// under a temporary name and renamed, so a retry never takes a half copy for a whole one.
export const SEED_DEPENDENCIES = [
  "for d in vendor node_modules; do",
  '  src="$2/$d"; dst="$1/$d"',
  '  [ -d "$src" ] && [ ! -L "$src" ] || continue',
  '  if [ -e "$dst" ] || [ -L "$dst" ]; then continue; fi',
  '  rm -rf -- "$dst.brokeforge-tmp" && cp -a -- "$src" "$dst.brokeforge-tmp" && mv -T -- "$dst.brokeforge-tmp" "$dst" || exit 1',
  '  echo "$d copied from the live release"',
  "done",
].join("\n");

// $1 path, $2 Host, $3 the release live before, $4 live link, $5 php-fpm unit, $6 SWAP, $7 the
// release's name as the user reads it. Any answer but 2xx (000: none) swaps straight back.
export const HEALTH_CHECK = [
  'code=$(curl --silent --globoff --output /dev/null --write-out \'%{http_code}\' --max-time 30 --header "Host: $2" "http://127.0.0.1:80$1") || true',
  'case $code in 2??) echo "Health check $1 answered $code"; exit 0 ;; esac',
  `runuser -u ${SITE_USER} -- sh -c "$6" sh "$3" "$4" || { echo "Health check $1 answered $code, and swapping back to $7 failed" >&2; exit 1; }`,
  'systemctl reload "$5" || true',
  'echo "Health check $1 answered $code: rolled back to $7" >&2',
  "exit 1",
].join("\n");

// $1 nginx's sites-available file, $2 its sites-enabled link, $3 content, $4 the ACME root. The
// new server block is tested before anything is reloaded; when `nginx -t` refuses it, the
// previous file (or none) is put back and nginx's message is the error. Unchanged: nothing done.
export const INSTALL_NGINX_SITE = [
  'a=$1; e=$2; tmp="$1.brokeforge-tmp"; old="$1.brokeforge-old"',
  'mkdir -p -- "$4" || exit 1',
  'if [ -f "$a" ] && printf \'%s\' "$3" | cmp -s - "$a" && [ "$(readlink -- "$e")" = "$a" ]; then echo "$a is up to date"; exit 0; fi',
  'rm -f -- "$tmp" "$old"',
  'had=0; if [ -e "$a" ]; then had=1; cp -p -- "$a" "$old" || exit 1; fi',
  'linked=0; if [ -e "$e" ] || [ -L "$e" ]; then linked=1; fi',
  "umask 022",
  'printf \'%s\' "$3" > "$tmp" && mv -f -- "$tmp" "$a" || exit 1',
  '[ "$(readlink -- "$e")" = "$a" ] || ln -sfn -- "$a" "$e" || exit 1',
  'if out=$(nginx -t 2>&1); then rm -f -- "$old"; echo "$a written"; exit 0; fi',
  'if [ "$had" = 1 ]; then mv -f -- "$old" "$a"; else rm -f -- "$a"; fi',
  'if [ "$linked" = 0 ]; then rm -f -- "$e"; fi',
  "printf '%s\\n' \"$out\" >&2",
  'echo "nginx refused the new server block: the previous configuration stays, nothing was reloaded" >&2',
  "exit 1",
].join("\n");

// After a command ($pid, started under `set -m`: its own process group, in the run's session, so
// a cancelled run's stop still reaches it) has ended: whatever it left running (`cmd &`) is
// stopped, TERM then KILL 2 s later. Left alone it would hold the copies' pipes open and keep the
// step waiting (and a systemd run kills it when the run ends anyway). Zombies do not count: they
// are dead, and some containers' PID 1 never reaps them; the /proc scan that tells them apart
// runs only when the group is not empty (kill -0), which after most commands it is. Then the
// copies (group $copies, whose leader is this shell's child) get 2 s to drain; a pipe still held
// by something that left the group (its own setsid) does not keep them: they are stopped.
const END_GROUP = [
  "alive() {",
  "  g=$1",
  "  for f in /proc/[0-9]*/stat; do",
  '    read -r l 2>/dev/null <"$f" || continue',
  "    set -- ${l##*) }",
  '    [ "$3" = "$g" ] && [ "$1" != Z ] && return 0',
  "  done",
  "  return 1",
  "}",
  'if kill -0 -- "-$pid" 2>/dev/null && alive "$pid"; then',
  '  kill -TERM -- "-$pid" 2>/dev/null',
  '  i=0; while alive "$pid" && [ "$i" -lt 100 ]; do sleep 0.02; i=$((i + 1)); done',
  '  kill -KILL -- "-$pid" 2>/dev/null',
  "fi",
  'i=0; while kill -0 "$copies" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.02; i=$((i + 1)); done',
  'kill -KILL -- "-$copies" 2>/dev/null',
  "wait",
];

// $1 where the result goes, $2 the live release, $3 timeout (s), $4 the command. Runs the command
// with its stdout and stderr copied as they come (tee) to the step's own (the operation's live
// log, line by line) and to files the next steps read the row's columns from. ALWAYS exits 0
// once it ran: the exit code, stdout and stderr are the result, read by the next steps (a
// command that fails is not a step that fails). timeout(1) signals the command's whole process
// group, so its children die with it at the timeout; what it leaves running when it ends is
// stopped too (END_GROUP).
export const RUN_COMMAND = [
  "umask 077",
  'rm -rf -- "$1" && mkdir -p -- "$1" && mkfifo -- "$1/o" "$1/e" || exit 1',
  'cd -- "$2" || exit 1',
  "set -m",
  '{ tee -- "$1/stdout" <"$1/o" & tee -- "$1/stderr" <"$1/e" >&2 & wait; } & copies=$!',
  "start=$(date +%s%N)",
  'timeout --kill-after=10 "$3" bash -c "$4" </dev/null >"$1/o" 2>"$1/e" & pid=$!',
  "set +m",
  'wait "$pid"; rc=$?',
  "end=$(date +%s%N)",
  ...END_GROUP,
  'rm -f -- "$1/o" "$1/e"',
  'echo "$(( (end - start) / 1000000 ))" > "$1/ms"',
  'echo "$rc" > "$1/rc"',
  'echo "The command ended with exit code $rc"',
].join("\n");

// As the site user: $1 the deploy log, $2 the step's place in the deploy ("clone#1"), $3 its
// label; stdin and fd 3 the step's stdout and stderr. A header, then both streams appended to
// the log as they come and passed on (stdout to stdout, stderr to stderr). A step run again (a
// retried milestone) appends again, under a header saying so. A log that cannot be written costs
// the log (one line says so), never the step.
export const APPEND_LOG = [
  "umask 027",
  'log=$1; again=""',
  'if [ -f "$log" ] && grep -qF -- "($2)" "$log"; then again=" again: the output of its earlier run is above"; fi',
  'mkdir -p -- "${log%/*}" && printf \'==> [%s] %s (%s)%s\\n\' "$(date -u \'+%F %T UTC\')" "$3" "$2" "$again" >>"$log" ||',
  '  { echo "brokeforge: could not write the deploy log $log" >&2; log=/dev/null; }',
  'tee -a -- "$log" <&3 >&2 3<&- &',
  'tee -a -- "$log" 3<&-',
  "wait",
].join("\n");

// $1 APPEND_LOG, $2 the deploy log, $3 the step's place, $4 its label, then the step's argv. The
// step runs as it would bare (as root; its argv says when as the site user), its output going
// through APPEND_LOG run as the site user: root never opens a path in the user's home (a link
// planted there would make root write wherever it points). Exits with the step's exit code.
export const LOGGED = [
  "a=$1; log=$2; key=$3; label=$4; shift 4",
  't=$(mktemp -d) && mkfifo -- "$t/o" "$t/e" || exit 1',
  "set -m",
  `runuser -u ${SITE_USER} -- bash -c "$a" bash "$log" "$key" "$label" <"$t/o" 3<"$t/e" & copies=$!`,
  '"$@" </dev/null >"$t/o" 2>"$t/e" & pid=$!',
  "set +m",
  'wait "$pid"; rc=$?',
  ...END_GROUP,
  'rm -rf -- "$t"',
  'exit "$rc"',
].join("\n");

// $1 file, $2 bytes. The file's last $2 bytes, after a marker line when it was longer.
export const SHOW_TAIL = [
  'n=$(wc -c < "$1") || exit 1',
  'if [ "$n" -gt "$2" ]; then printf \'[truncated: the first %s of %s bytes are not shown]\\n\' "$((n - $2))" "$n"; fi',
  'tail -c "$2" -- "$1"',
].join("\n");

// $1 result dir, $2 timeout (s). Exits with the command's exit code, the result dir deleted.
export const COMMAND_RESULT = [
  'read -r rc < "$1/rc" || { echo "The command left no exit code" >&2; exit 1; }',
  'read -r ms < "$1/ms" || ms="?"',
  'rm -rf -- "$1"',
  'case $rc in 124|137) echo "The command timed out after $2 s" >&2; exit "$rc" ;; esac',
  'if [ "$rc" != 0 ]; then echo "The command exited with $rc after $ms ms" >&2; exit "$rc"; fi',
  'echo "The command succeeded in $ms ms"',
].join("\n");

// --- builders ---------------------------------------------------------------------------------

/** Shared files and directories (see sharedKind), made when missing, existing ones untouched. */
export function ensureShared(domain: string, paths: readonly string[]): Step {
  paths.forEach((p) => assertRelative(p, "shared path"));
  return asSiteUser(
    "Creating the shared files and directories",
    "sh",
    "-c",
    ENSURE_SHARED,
    "sh",
    sharedDir(domain),
    ...paths.flatMap((p) => [sharedKind(p), p]),
  );
}

export function placeholderPage(domain: string): string {
  assertDomain(domain);
  return ["<!doctype html>", `<title>${domain}</title>`, `<p>${domain} is ready: deploy to put your app here</p>`, ""].join("\n");
}

export function ensurePlaceholder(domain: string, webDirectory: string): Step {
  assertRelative(webDirectory, "web directory");
  return asSiteUser(
    "Making the placeholder release live if nothing is",
    "sh",
    "-c",
    ENSURE_PLACEHOLDER,
    "sh",
    placeholderDir(domain),
    `${placeholderDir(domain)}/${webDirectory}`,
    placeholderPage(domain),
    liveLink(domain),
  );
}

/** The shared .env, written whole (temp file + rename), 600, as the site user. */
export function writeEnv(domain: string, content: string): Step {
  if (content.includes("\0")) throw new Error("sites: the .env can't contain NUL bytes");
  return asSiteUser("Writing the shared .env", "sh", "-c", WRITE_FILE, "sh", `${sharedDir(domain)}/.env`, content, "0600", "");
}

export const nginxAvailable = (domain: string) => (assertDomain(domain), `/etc/nginx/sites-available/${domain}.conf`);
export const nginxEnabled = (domain: string) => (assertDomain(domain), `/etc/nginx/sites-enabled/${domain}.conf`);

export function installNginxSite(domain: string, content: string, acmeRoot: string): Step {
  return step(
    `Writing and testing the server block of ${domain}`,
    "sh",
    "-c",
    INSTALL_NGINX_SITE,
    "sh",
    nginxAvailable(domain),
    nginxEnabled(domain),
    content,
    acmeRoot,
  );
}

export function removeNginxSite(domain: string): Step {
  return step(`Deleting the server block of ${domain}`, "rm", "-f", "--", nginxEnabled(domain), nginxAvailable(domain));
}

/** The site's directories and its live link, as the site user (the link goes, not what it points to). */
export function removeSiteFiles(domain: string): Step {
  return asSiteUser(`Deleting ${siteDir(domain)} and ${liveLink(domain)}`, "rm", "-rf", "--", liveLink(domain), siteDir(domain));
}

/**
 * The git host of a repository as ssh names it in known_hosts: `host`, or `[host]:port` for a
 * port other than 22 (`git@github.com:acme/app.git` → github.com, `ssh://git@h:2222/x` → [h]:2222).
 */
export function knownHostsName(repository: string): string {
  assertRepository(repository);
  const url = /^ssh:\/\/[^@]+@([^:/]+)(?::(\d+))?\//.exec(repository);
  if (url) return url[2] && Number(url[2]) !== 22 ? `[${url[1]}]:${Number(url[2])}` : url[1]!;
  return /^[^@]+@([^:]+):/.exec(repository)![1]!;
}

export function clone(domain: string, releasePath: string, repository: string, branch: string): Step {
  assertReleasePath(domain, releasePath);
  assertRepository(repository);
  assertBranch(branch);
  return asSiteUser(
    `Cloning ${branch} of ${repository}`,
    "sh",
    "-c",
    CLONE,
    "sh",
    releasePath,
    liveLink(domain),
    repository,
    branch,
    knownHostsName(repository),
  );
}

export function commitSha(domain: string, releasePath: string): Step {
  assertReleasePath(domain, releasePath);
  return { ...asSiteUser("Reading the commit", "git", "-C", releasePath, "rev-parse", "HEAD"), output: "commit_sha" };
}

export function commitMessage(domain: string, releasePath: string): Step {
  assertReleasePath(domain, releasePath);
  return { ...asSiteUser("Reading the commit message", "git", "-C", releasePath, "log", "-1", "--format=%s"), output: "commit_message" };
}

export function linkShared(domain: string, releasePath: string, paths: readonly string[]): Step {
  assertReleasePath(domain, releasePath);
  return asSiteUser(
    "Linking the shared files and directories",
    "sh",
    "-c",
    LINK_SHARED,
    "sh",
    releasePath,
    ...paths.flatMap((p) => [p, sharedLinkTarget(p)]),
  );
}

export function seedDependencies(domain: string, releasePath: string): Step {
  assertReleasePath(domain, releasePath);
  return asSiteUser(
    "Copying vendor/ and node_modules/ from the live release",
    "sh",
    "-c",
    SEED_DEPENDENCIES,
    "sh",
    releasePath,
    liveLink(domain),
  );
}

/**
 * The deploy script's commands: one per non-empty line that is not a comment; a line ending in
 * an odd number of backslashes continues on the next (bash's rule), and goes to bash as written.
 */
export function deployScriptLines(script: string): string[] {
  const commands: string[] = [];
  let pending: string[] = [];
  for (const line of script.split(/\r?\n/)) {
    pending.push(line);
    if (/(^|[^\\])(\\\\)*\\$/.test(line)) continue;
    const command = pending.join("\n");
    pending = [];
    const trimmed = command.trim();
    if (trimmed !== "" && !trimmed.startsWith("#")) commands.push(command);
  }
  const rest = pending.join("\n").replace(/\\$/, "");
  if (rest.trim() !== "" && !rest.trim().startsWith("#")) commands.push(rest);
  return commands;
}

export interface DeployEnvironment {
  domain: string;
  release: string;
  releasePath: string;
  /** "" before the clone read it. */
  commit: string;
  branch: string;
}

/** One deploy script command, as the site user, in the release, with the site's environment. */
export function deployCommand(command: string, env: DeployEnvironment): Step {
  assertReleasePath(env.domain, env.releasePath);
  assertBranch(env.branch);
  if (!RELEASE_NAME.test(env.release) || !/^[0-9a-f]{0,64}$/.test(env.commit)) throw new Error("sites: bad release or commit");
  if (command.includes("\0")) throw new Error("sites: a deploy command can't contain NUL bytes");
  const shown = command.replace(/\s*\\?\r?\n\s*/g, " ").trim();
  return asSiteUser(
    `$ ${shown.length > 100 ? `${shown.slice(0, 99)}…` : shown}`,
    "env",
    "-C",
    env.releasePath,
    `BROKEFORGE_SITE_PATH=${liveLink(env.domain)}`,
    `BROKEFORGE_RELEASE=${env.release}`,
    `BROKEFORGE_RELEASE_PATH=${env.releasePath}`,
    `BROKEFORGE_COMMIT=${env.commit}`,
    `BROKEFORGE_BRANCH=${env.branch}`,
    `HOME=${SITE_HOME}`,
    "bash",
    "-c",
    command,
  );
}

/** The atomic swap of the live link to `releasePath` (a release or the placeholder). */
export function swap(domain: string, releasePath: string, label = `Making ${releasePath.split("/").pop()} live`): Step {
  if (releasePath !== placeholderDir(domain)) assertReleasePath(domain, releasePath);
  return asSiteUser(label, "sh", "-c", SWAP, "sh", releasePath, liveLink(domain));
}

export function reloadPhpFpm(version: string): Step {
  assertPhpVersion(version);
  return step(`Reloading php${version}-fpm`, "systemctl", "reload", `php${version}-fpm`);
}

export function healthCheck(opts: { domain: string; path: string; previous: string; previousName: string; phpVersion: string }): Step {
  const { domain, path, previous, previousName, phpVersion } = opts;
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/.test(path)) throw new Error(`sites: bad health check path ${JSON.stringify(path)}`);
  if (previous !== placeholderDir(domain)) assertReleasePath(domain, previous);
  assertPhpVersion(phpVersion);
  return step(
    `Requesting ${path} from ${domain}`,
    "sh",
    "-c",
    HEALTH_CHECK,
    "sh",
    path,
    domain,
    previous,
    liveLink(domain),
    `php${phpVersion}-fpm`,
    SWAP,
    previousName,
  );
}

/**
 * A deploy step whose stdout and stderr are also appended, as they come, to the deploy's log on
 * the server (deployLogPath), under a header naming `key`: the step's place in the deploy
 * ("clone#1"), so a step run again is told apart from the first run.
 */
export function logged(domain: string, release: string, key: string, s: Step): Step {
  if (!/^[a-z_]+#\d{1,3}$/.test(key)) throw new Error(`sites: bad log key ${JSON.stringify(key)}`);
  return { ...s, argv: ["bash", "-c", LOGGED, "bash", APPEND_LOG, deployLogPath(domain, release), key, s.label, ...s.argv] };
}

/** Deletes release dirs (or the placeholder, or deploy logs) of the site, never the live one; best effort. */
export function deleteReleases(domain: string, paths: readonly string[], label = "Deleting old releases"): Step {
  const isLog = (p: string) =>
    /^\d{8}-\d{6}(-\d{1,4})?\.log$/.test(p.slice(logsDir(domain).length + 1)) && p.startsWith(`${logsDir(domain)}/`);
  for (const p of paths) if (p !== placeholderDir(domain) && !isLog(p)) assertReleasePath(domain, p);
  return asSiteUser(label, "sh", "-c", DELETE_UNLESS_LIVE, "sh", liveLink(domain), ...paths);
}

// --- site commands ----------------------------------------------------------------------------

/** Where a site command's result waits between its steps (in the site user's home, private). */
export function commandResultDir(id: string): string {
  assertId(id);
  return `${SITE_HOME}/.brokeforge/commands/${id}`;
}

/** Stdout and stderr each keep their last this many bytes (the row's columns take 4096 characters). */
export const COMMAND_OUTPUT_BYTES = 4000;

export function runCommand(opts: { id: string; domain: string; command: string; timeoutSeconds: number }): Step {
  const { id, domain, command, timeoutSeconds } = opts;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3600) throw new Error("sites: bad timeout");
  if (command.trim() === "" || command.includes("\0")) throw new Error("sites: bad command");
  return asSiteUser(
    "Running the command",
    "env",
    `HOME=${SITE_HOME}`,
    `BROKEFORGE_SITE_PATH=${liveLink(domain)}`,
    "bash",
    "-c",
    RUN_COMMAND,
    "bash",
    commandResultDir(id),
    liveLink(domain),
    String(timeoutSeconds),
    command,
  );
}

/**
 * The last COMMAND_OUTPUT_BYTES of one of the command's streams, as the named output the row's
 * column takes. Quiet: the run step already showed this output live, the log needs it once.
 */
export function showCommandOutput(id: string, stream: "stdout" | "stderr"): Step {
  return {
    quiet: true,
    ...asSiteUser(
      `The command's ${stream}`,
      "sh",
      "-c",
      SHOW_TAIL,
      "sh",
      `${commandResultDir(id)}/${stream}`,
      String(COMMAND_OUTPUT_BYTES),
    ),
    output: stream,
  };
}

export function commandResult(id: string, timeoutSeconds: number): Step {
  return asSiteUser("Reading the command's exit code", "sh", "-c", COMMAND_RESULT, "sh", commandResultDir(id), String(timeoutSeconds));
}
