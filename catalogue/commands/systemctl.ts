// systemd units. Unit names are checked: they are argv, but a leading "-" would be an option.
import { step, type Step } from "../kit";

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
