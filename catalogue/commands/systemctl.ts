// systemd units. Unit names are checked: they are argv, but a leading "-" would be an option.
import { step, type Step } from "../kit";
import { restartFlag } from "./files";

function assertUnit(unit: string): void {
  if (!/^[A-Za-z0-9@_.:\\-]+$/.test(unit) || unit.startsWith("-")) throw new Error(`systemctl: bad unit ${JSON.stringify(unit)}`);
}

const verb =
  (label: string, action: string) =>
  (unit: string): Step => {
    assertUnit(unit);
    return step(`${label} ${unit}`, "systemctl", action, unit);
  };

export const start = verb("Starting", "start");
export const stop = verb("Stopping", "stop");
export const reload = verb("Reloading", "reload");
export const restart = verb("Restarting", "restart");

/** Enabled at boot and started now. */
export function enableNow(unit: string): Step {
  assertUnit(unit);
  return step(`Starting ${unit} at boot and now`, "systemctl", "enable", "--now", unit);
}

/** Exits non-zero unless the unit is active (prints its state either way). */
export function isActive(unit: string): Step {
  assertUnit(unit);
  return step(`Checking that ${unit} is running`, "systemctl", "is-active", unit);
}

// $1 unit, $2 flag. A config writer flagged the unit (files.writeIfChanged / ensureLine with
// `restarts`): restart it, then clear the flag (a failed restart keeps it for the retry).
// Not flagged: only make sure it runs — `start` of a running unit changes nothing (same PID).
export const RESTART_IF_CHANGED = [
  'if [ -e "$2" ]; then',
  '  systemctl restart "$1" || exit 1',
  '  rm -f -- "$2"; echo "$1 restarted: its configuration changed"',
  "else",
  '  systemctl start "$1" || exit 1',
  '  echo "$1: configuration unchanged, not restarted"',
  "fi",
].join("\n");

/** Restarts `unit` when a config step of this plan flagged it; otherwise only starts it if stopped. */
export function restartIfChanged(unit: string): Step {
  assertUnit(unit);
  return step(`Restarting ${unit} if its configuration changed`, "sh", "-c", RESTART_IF_CHANGED, "sh", unit, restartFlag(unit));
}
