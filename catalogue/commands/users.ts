// Users and groups. Names are checked like useradd does (and like the forms' sshUserSchema).
import { step, type Step } from "../kit";

export function assertUser(name: string): void {
  if (!/^[a-z_][a-z0-9_-]*\$?$/.test(name) || name.length > 32) throw new Error(`users: bad user ${JSON.stringify(name)}`);
}

/** Exits non-zero when the user does not exist (a step, or a precondition's check). */
export function exists(user: string): readonly string[] {
  assertUser(user);
  return ["id", "-u", "--", user];
}

export function requireUser(user: string): Step {
  return step("Checking that the user exists", ...exists(user));
}

// $1 user, $2 home, $3 shell. Creates the user with its own group once; a second run changes nothing.
export const ENSURE_USER =
  'id -u -- "$1" >/dev/null 2>&1 && { echo "user $1 exists"; exit 0; }; useradd --create-home --home-dir "$2" --shell "$3" --user-group -- "$1"';

export function ensure(user: string, opts: { home?: string; shell?: string } = {}): Step {
  assertUser(user);
  const home = opts.home ?? `/home/${user}`;
  const shell = opts.shell ?? "/bin/bash";
  if (!/^\/[A-Za-z0-9_./-]+$/.test(home) || !/^\/[A-Za-z0-9_./-]+$/.test(shell)) throw new Error("users: bad home or shell");
  return step(`Creating the user ${user}`, "sh", "-c", ENSURE_USER, "sh", user, home, shell);
}

/** Adds `user` to `group` (idempotent: usermod -aG of a member changes nothing). */
export function addToGroup(user: string, group: string): Step {
  assertUser(user);
  assertUser(group);
  return step(`Adding ${user} to the group ${group}`, "usermod", "-a", "-G", group, "--", user);
}

export function chown(owner: string, paths: readonly string[], label = "Setting owners"): Step {
  assertUser(owner.replace(/:$/, ""));
  return step(label, "chown", "--", owner, ...paths);
}
