// How a site's deploy script runs, in the words the site's form shows: each line its own step,
// as the site user in the new release, with these variables set (catalogue/commands/releases.ts
// deployCommand sets exactly these; deploy-script.test.ts holds the two together).

/** The variables each deploy script line gets, with what they hold. */
export const DEPLOY_SCRIPT_VARIABLES = {
  BROKEFORGE_SITE_PATH: "the live link, /home/brokeforge/<domain>",
  BROKEFORGE_RELEASE: "the new release's name, e.g. 20261203-172859",
  BROKEFORGE_RELEASE_PATH: "the new release's directory (the working directory)",
  BROKEFORGE_COMMIT: "the commit being deployed",
  BROKEFORGE_BRANCH: "the branch being deployed",
} as const;
