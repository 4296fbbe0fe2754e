// A site's fields, shared by the new-site form and the site's settings: lists (aliases, shared
// paths) are typed in one field, separated by commas or spaces; PHP is chosen among the versions
// installed on the server.
import type { FieldErrors } from "../../domain/schemas";
import { DEPLOY_SCRIPT_VARIABLES } from "../../domain/deploy-script";
import { DEFAULT_DEPLOY_SCRIPT, DEFAULT_SHARED_PATHS, KEEP_RELEASES, MAX_KEEP_RELEASES } from "../../domain/sites";
import { Select } from "./select";
import { Field } from "./ui";

/** "a.com, www.a.com  b.com" → ["a.com", "www.a.com", "b.com"]. */
export const splitList = (value: unknown) =>
  String(value ?? "")
    .split(/[\s,]+/)
    .filter(Boolean);

/** The form's values as the API takes them: the two lists split. */
export function siteValues(values: Record<string, unknown>): Record<string, unknown> {
  return { ...values, aliases: splitList(values.aliases), sharedPaths: splitList(values.sharedPaths) };
}

export interface SiteDefaults {
  aliases?: readonly string[];
  phpVersion?: string;
  webDirectory?: string;
  repository?: string | null;
  branch?: string;
  deployScript?: string;
  sharedPaths?: readonly string[];
  healthCheckPath?: string | null;
  keepReleases?: number;
}

/** The PHP versions installed on a server (its active php package rows), newest first. */
export function installedPhp(packages: readonly { type: string; variant: string | null; status: string }[]): string[] {
  return packages
    .filter((p) => p.type === "php" && p.variant && p.status === "active")
    .map((p) => p.variant!)
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
}

export function SiteFields({
  errors: e,
  phpVersions,
  defaults = {},
}: {
  errors: FieldErrors;
  phpVersions: string[];
  defaults?: SiteDefaults;
}) {
  // A site's current version stays choosable even if its package row is gone.
  const versions = defaults.phpVersion && !phpVersions.includes(defaults.phpVersion) ? [defaults.phpVersion, ...phpVersions] : phpVersions;
  return (
    <>
      <Field
        label="Aliases"
        name="aliases"
        defaultValue={defaults.aliases?.join(" ")}
        error={e.aliases}
        hint="Other names of the site, separated by commas or spaces."
      />
      <Select
        label="PHP version"
        name="phpVersion"
        defaultValue={defaults.phpVersion}
        options={versions.map((v) => [v, `PHP ${v}`] as const)}
        error={e.phpVersion}
      />
      <Field
        label="Web directory"
        name="webDirectory"
        defaultValue={defaults.webDirectory ?? "public"}
        error={e.webDirectory}
        hint="The directory of the release nginx serves."
      />
      <Field
        label="Repository"
        name="repository"
        defaultValue={defaults.repository ?? ""}
        error={e.repository}
        hint="Its SSH address, e.g. git@github.com:owner/app.git."
      />
      <Field label="Branch" name="branch" defaultValue={defaults.branch ?? "main"} error={e.branch} />
      <Field
        label="Health check path"
        name="healthCheckPath"
        defaultValue={defaults.healthCheckPath ?? ""}
        error={e.healthCheckPath}
        hint="e.g. /up: requested after each swap; an error puts the previous release back (optional)."
      />
      <Field
        label="Releases to keep"
        name="keepReleases"
        type="number"
        defaultValue={defaults.keepReleases ?? KEEP_RELEASES}
        error={e.keepReleases}
        hint={`Successful releases kept on the server (1–${MAX_KEEP_RELEASES}); older ones are deleted after each deploy. The live release and the one a rollback would go to are always kept.`}
      />
      <div className="space-y-1 sm:col-span-2">
        <label htmlFor="field-deployScript" className="block text-sm font-medium text-slate-700">
          Deploy script
        </label>
        <textarea
          id="field-deployScript"
          name="deployScript"
          rows={4}
          defaultValue={defaults.deployScript ?? DEFAULT_DEPLOY_SCRIPT}
          spellCheck={false}
          aria-invalid={e.deployScript ? true : undefined}
          className="block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-xs shadow-sm focus:outline-none focus:ring-2 focus:ring-blue-200"
        />
        {e.deployScript ? (
          <p className="text-sm text-red-600" role="alert">
            {e.deployScript}
          </p>
        ) : (
          <DeployScriptHelp />
        )}
      </div>
      <div className="sm:col-span-2">
        <Field
          label="Shared paths"
          name="sharedPaths"
          defaultValue={(defaults.sharedPaths ?? DEFAULT_SHARED_PATHS).join(" ")}
          error={e.sharedPaths}
          hint="Kept across releases (linked into each one), separated by commas or spaces."
        />
      </div>
    </>
  );
}

/** How the deploy script runs (catalogue/commands/releases.ts deployScriptLines and deployCommand). */
function DeployScriptHelp() {
  return (
    <div className="space-y-1 text-xs text-slate-500" data-testid="deploy-script-help">
      <p>
        Run line by line as the <code>brokeforge</code> user in the new release, before it goes live: each line is its own step (its own{" "}
        <code>bash -c</code>), and the first that fails stops the deploy. A line ending in <code>\</code> continues on the next; lines
        starting with <code>#</code> are skipped. Every line has these variables:
      </p>
      <ul className="ml-4 list-disc">
        {Object.entries(DEPLOY_SCRIPT_VARIABLES).map(([name, meaning]) => (
          <li key={name}>
            <code>{name}</code>: {meaning}
          </li>
        ))}
      </ul>
      <p>
        Multi-line constructs (<code>if</code>, loops, functions, <code>cd</code> carried to the next line) do not span lines: put them in a
        script in the repository and call it here, e.g. <code>bash scripts/deploy.sh</code>.
      </p>
    </div>
  );
}
