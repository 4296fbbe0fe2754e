// site_user: the unprivileged `brokeforge` user that sites, deploys and PHP run as. Pure builders.
//
// Everything inside its home is done AS the user (runuser): the home belongs to a user whose
// code (a site's PHP) may be hostile, and root following a symlink planted there (e.g.
// ~/.ssh/authorized_keys → /etc/shadow) would write or chown a file of root's choosing. Only
// the sudoers file, outside the home, is root's work — checked with `visudo -cf` before it is
// renamed into place, so a broken file never reaches /etc/sudoers.d.
import { apt, users } from "../commands";
import { definePackage, milestone, step, type Plan, type PlanContext } from "../kit";

export const SITE_USER = "brokeforge";
export const SITE_HOME = "/home/brokeforge";
export const DEPLOY_KEY = `${SITE_HOME}/.ssh/id_ed25519`;
export const SUDOERS_PATH = "/etc/sudoers.d/brokeforge";

/**
 * PHP versions whose php-fpm reload the sudoers file allows, besides those the server's apt
 * offers (facts): Debian's and the usual third-party repositories' current ones, so a version
 * added later needs no sudoers change.
 */
export const KNOWN_PHP_VERSIONS = ["7.4", "8.0", "8.1", "8.2", "8.3", "8.4", "8.5"] as const;

/** One OpenSSH public key line: type, base64, optional comment — nothing sshd would read as options. */
const PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x21-\x7e ]{0,200})?$/;

export function assertPublicKey(key: string): void {
  if (!PUBLIC_KEY.test(key)) throw new Error("site user: the public key is not one OpenSSH public key line");
}

// $1 home, $2 key line. Run as the user: ~/.ssh 700, authorized_keys 600, the line once (a
// file without a final newline gets one first, so the key never joins the last line).
export const AUTHORIZE_KEY = [
  "umask 077",
  'd="$1/.ssh"; f="$d/authorized_keys"',
  'mkdir -p -- "$d" && chmod 700 -- "$d" || exit 1',
  '[ -e "$f" ] || : > "$f" || exit 1',
  'chmod 600 -- "$f" || exit 1',
  'if grep -qxF -- "$2" "$f"; then echo "The key is authorized already"; exit 0; fi',
  'if [ -s "$f" ] && [ -n "$(tail -c 1 -- "$f")" ]; then echo >> "$f"; fi',
  'printf \'%s\\n\' "$2" >> "$f"',
  'echo "Key authorized"',
].join("\n");

// $1 home, $2 key line. Run as the user: every line equal to the key goes, the rest stays.
export const UNAUTHORIZE_KEY = [
  "umask 077",
  'f="$1/.ssh/authorized_keys"',
  '[ -f "$f" ] || { echo "No authorized_keys: nothing to remove"; exit 0; }',
  'grep -vxF -- "$2" "$f" > "$f.brokeforge-tmp"; rc=$?',
  '[ "$rc" -le 1 ] || { rm -f -- "$f.brokeforge-tmp"; exit "$rc"; }',
  'mv -f -- "$f.brokeforge-tmp" "$f"',
].join("\n");

// $1 private key path. Run as the user. Made once; generated under a temporary name and
// renamed public half first, so an interrupted run leaves either no key or a whole one.
export const ENSURE_DEPLOY_KEY = [
  "umask 077",
  'k=$1; tmp="$1.brokeforge-tmp"',
  'mkdir -p -- "${k%/*}" && chmod 700 -- "${k%/*}" || exit 1',
  'if [ ! -f "$k" ]; then',
  '  rm -f -- "$tmp" "$tmp.pub"',
  "  ssh-keygen -q -t ed25519 -N '' -f \"$tmp\" </dev/null || exit 1",
  '  mv -f -- "$tmp.pub" "$k.pub" && mv -f -- "$tmp" "$k" || exit 1',
  '  echo "Deploy key created" >&2',
  "fi",
  '[ -f "$k.pub" ] || ssh-keygen -y -f "$k" > "$k.pub" || exit 1',
].join("\n");

// $1 target, $2 content. A file that has this content already is left alone (a re-run changes
// nothing). Else written beside the target under a name containing a "." (sudo's includedir
// skips such files, so even a leftover is never read), checked by visudo, then renamed into
// place; an invalid file is deleted and nothing changes.
export const INSTALL_SUDOERS = [
  'if [ -f "$1" ] && printf \'%s\' "$2" | cmp -s - "$1"; then chmod 0440 -- "$1" && echo "$1 is up to date"; exit; fi',
  'tmp="$1.brokeforge-tmp"',
  "umask 077",
  'printf \'%s\' "$2" > "$tmp" || exit 1',
  'chmod 0440 -- "$tmp" || exit 1',
  'if ! visudo -cf "$tmp"; then rm -f -- "$tmp"; echo "The sudoers file was refused by visudo: nothing was changed" >&2; exit 1; fi',
  'mv -f -- "$tmp" "$1"',
].join("\n");

/**
 * The site user's sudo rights: reloading nginx and each PHP version's php-fpm, and `nginx -t`.
 * Exact command lines only, no wildcards: in sudoers a `*` also matches spaces, so
 * `systemctl reload php*-fpm` would allow `systemctl reload php sshd x-fpm`, or options
 * slipped in between. sudo compares a command by path and, failing that, by the file itself,
 * so /bin/systemctl (merged /usr) is the same command as /usr/bin/systemctl.
 */
export function sudoersFile(phpVersions: readonly string[]): string {
  for (const v of phpVersions) if (!/^\d\.\d{1,2}$/.test(v)) throw new Error(`site user: bad PHP version ${JSON.stringify(v)}`);
  const versions = [...new Set(phpVersions)].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const commands = [
    "/usr/sbin/nginx -t",
    "/usr/bin/systemctl reload nginx",
    ...versions.map((v) => `/usr/bin/systemctl reload php${v}-fpm`),
  ];
  return [
    "# Managed by BrokeForge: changes here are overwritten.",
    "# The site user may reload the services its sites need, and nothing else.",
    `Cmnd_Alias BROKEFORGE_RELOADS = ${commands.join(", \\\n    ")}`,
    `${SITE_USER} ALL=(root) NOPASSWD: BROKEFORGE_RELOADS`,
    "",
  ].join("\n");
}

function siteUserKey(ctx: PlanContext): string {
  const key = ctx.server.siteUserPublicKey?.trim();
  if (!key) throw new Error("This server has no site user key yet: BrokeForge makes one when the server is added");
  assertPublicKey(key);
  return key;
}

const asSiteUser = (label: string, ...argv: string[]) => step(label, "runuser", "-u", SITE_USER, "--", ...argv);

export function siteUserInstallPlan(ctx: PlanContext): Plan {
  const key = siteUserKey(ctx);
  const php = [...KNOWN_PHP_VERSIONS, ...(ctx.server.variants?.php ?? [])];
  return [
    milestone("site_user_account", "Creating the brokeforge user", [
      apt.update(),
      ...apt.install(["sudo", "openssh-client"]),
      users.ensure(SITE_USER, { home: SITE_HOME, shell: "/bin/bash" }),
      // nginx (www-data) must traverse the home to reach the sites' public dirs; it cannot list it.
      step("Letting nginx reach the sites in the home", "chmod", "0711", "--", SITE_HOME),
    ]),
    milestone("site_user_ssh", "Authorizing BrokeForge's key for brokeforge", [
      asSiteUser("Authorizing BrokeForge's site user key", "sh", "-c", AUTHORIZE_KEY, "sh", SITE_HOME, key),
    ]),
    milestone("site_user_sudoers", "Allowing brokeforge to reload nginx and PHP", [
      step("Installing /etc/sudoers.d/brokeforge (checked by visudo)", "sh", "-c", INSTALL_SUDOERS, "sh", SUDOERS_PATH, sudoersFile(php)),
    ]),
    milestone(
      "site_user_deploy_key",
      "Creating the deploy key",
      [
        asSiteUser("Creating the deploy key when there is none", "sh", "-c", ENSURE_DEPLOY_KEY, "sh", DEPLOY_KEY),
        { ...asSiteUser("Reading the deploy key's public half", "cat", "--", `${DEPLOY_KEY}.pub`), output: "deploy_key" },
      ],
      {
        records: { type: "site_user", name: SITE_USER, configuration: { home: SITE_HOME }, configurationFrom: { deployKey: "deploy_key" } },
      },
    ),
  ];
}

/**
 * Takes away what BrokeForge gave the user — its sudo rights and BrokeForge's key — and keeps
 * the account and its home: the sites, their releases and the deploy key live there.
 */
export function siteUserRemovePlan(ctx: PlanContext): Plan {
  const key = ctx.server.siteUserPublicKey?.trim();
  if (key) assertPublicKey(key);
  return [
    milestone(
      "site_user_remove",
      "Removing brokeforge's sudo rights and BrokeForge's key",
      [
        step("Deleting /etc/sudoers.d/brokeforge", "rm", "-f", "--", SUDOERS_PATH),
        ...(key
          ? [
              step(
                "Removing BrokeForge's key from authorized_keys",
                "sh",
                "-c",
                `id -u -- "$2" >/dev/null 2>&1 || { echo "user $2 does not exist"; exit 0; }; exec runuser -u "$2" -- sh -c "$1" sh "$3" "$4"`,
                "sh",
                UNAUTHORIZE_KEY,
                SITE_USER,
                SITE_HOME,
                key,
              ),
            ]
          : []),
      ],
      { removes: { type: "site_user", name: SITE_USER } },
    ),
  ];
}

export const siteUser = definePackage({
  type: "site_user",
  name: SITE_USER,
  label: "Site user",
  description: "The unprivileged brokeforge user that sites and deploys run as, with its deploy key and limited sudo.",
  aptPackages: ["sudo", "openssh-client"],
  requires: [],
  install: (ctx) => siteUserInstallPlan(ctx),
  remove: (ctx) => siteUserRemovePlan(ctx),
});
