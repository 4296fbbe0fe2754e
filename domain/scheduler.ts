// Scheduled task (cron) input, shared by the browser form, tRPC and the cron package builders.
// No server imports here: this file is bundled into the browser too.
import { z } from "zod";
import { serverNameSchema, sshUserSchema } from "./schemas";

export const TASK_FREQUENCIES = ["every_minute", "hourly", "daily", "weekly", "monthly", "reboot", "custom"] as const;
export type TaskFrequency = (typeof TASK_FREQUENCIES)[number];

export const PRESET_CRON: Record<Exclude<TaskFrequency, "custom">, string> = {
  every_minute: "* * * * *",
  hourly: "0 * * * *",
  daily: "0 0 * * *",
  weekly: "0 0 * * 0",
  monthly: "0 0 1 * *",
  reboot: "@reboot",
};

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FIELDS = [
  { label: "Minute", min: 0, max: 59 },
  { label: "Hour", min: 0, max: 23 },
  { label: "Day of month", min: 1, max: 31 },
  { label: "Month", min: 1, max: 12, names: MONTHS, firstName: 1 },
  { label: "Day of week", min: 0, max: 7, names: DAYS, firstName: 0 }, // 0 and 7 are both Sunday
] as const;

type Field = (typeof FIELDS)[number];
export type ParsedCron = { ok: true; expression: string } | { ok: false; message: string };

/**
 * Validates a 5-field cron expression as Debian's cron reads it. Per field: a star, a star
 * with a step ("every n"), a value `a`, a range `a-b`, a range with a step `a-b/n`, and
 * comma lists of those; names (jan–dec, sun–sat) in the month and day-of-week fields.
 * Returns it normalised (single spaces, lower case).
 */
export function parseCronExpression(input: string): ParsedCron {
  const text = input.trim().toLowerCase();
  if (text.startsWith("@")) return { ok: false, message: "Use the frequency presets instead of @-shortcuts" };
  if (text.length > 100) return { ok: false, message: "Cron expression is too long" };
  const parts = text.split(/[ \t]+/);
  if (text === "" || parts.length !== 5) {
    return { ok: false, message: "A cron expression has 5 fields: minute hour day-of-month month day-of-week" };
  }
  for (const [i, part] of parts.entries()) {
    for (const item of part.split(",")) {
      const problem = cronItemProblem(item, FIELDS[i]!);
      if (problem) return { ok: false, message: `${FIELDS[i]!.label}: ${problem}` };
    }
  }
  return { ok: true, expression: parts.join(" ") };
}

function cronItemProblem(item: string, field: Field): string | null {
  const m = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/([0-9]+))?$/.exec(item);
  if (!m) return `"${item}" is not valid (use *, */n, a number, a range a-b, a-b/n, or a comma list)`;
  const [, star, a, b, step] = m;
  if (step !== undefined) {
    const n = Number(step);
    if (n < 1 || n > field.max) return `step /${step} must be between 1 and ${field.max}`;
    // Debian's cron only accepts a step after * or a range ("5/10" is an error there).
    if (!star && b === undefined) return `"${item}": a step needs * or a range, like */${step} or ${a}-${field.max}/${step}`;
  }
  if (star) return null;
  const from = cronValue(a!, field);
  if (typeof from === "string") return from;
  if (b === undefined) return null;
  const to = cronValue(b, field);
  if (typeof to === "string") return to;
  if (from > to) return `range ${a}-${b} goes backwards`;
  return null;
}

function cronValue(token: string, field: Field): number | string {
  if (/^[0-9]{1,2}$/.test(token)) {
    const n = Number(token);
    return n >= field.min && n <= field.max ? n : `${token} is out of range ${field.min}–${field.max}`;
  }
  const names: readonly string[] | undefined = "names" in field ? field.names : undefined;
  const index = names?.indexOf(token) ?? -1;
  if (index >= 0) return index + ("firstName" in field ? field.firstName : 0);
  return names
    ? `"${token}" is not a number ${field.min}–${field.max} or a name like ${names[0]}`
    : `"${token}" is not a number ${field.min}–${field.max}`;
}

/** The cron expression of a task: the preset's, or its validated custom expression. Throws when invalid. */
export function cronExpressionFor(task: { frequency: string; cron?: string | null }): string {
  if (task.frequency !== "custom") {
    const preset = PRESET_CRON[task.frequency as Exclude<TaskFrequency, "custom">];
    if (!preset) throw new Error(`Unknown task frequency ${JSON.stringify(task.frequency)}`);
    return preset;
  }
  const parsed = parseCronExpression(task.cron ?? "");
  if (!parsed.ok) throw new Error(`Invalid cron expression: ${parsed.message}`);
  return parsed.expression;
}

/**
 * A one-line shell command. Control characters are refused: a newline would end a cron
 * line or start a new supervisor config key, a NUL cannot travel in argv at all.
 */
export const singleLineCommandSchema = z
  .string({ message: "Command is required" })
  .trim()
  .min(1, "Command is required")
  .max(1000, "Command must be at most 1000 characters")
  .refine((v) => !/[\r\n\0]/.test(v), "Command must be a single line")
  // Tab is fine; other C0 controls, DEL and the Unicode line separators are not.
  .refine((v) => !/[\x01-\x08\x0b-\x1f\x7f\x85\u2028\u2029]/.test(v), "Command contains control characters");

export const scheduledTaskInputSchema = z
  .object({
    name: serverNameSchema,
    /** Run by /bin/sh as `user`, exactly as typed (no cron `%` escaping needed). */
    command: singleLineCommandSchema,
    user: sshUserSchema.default("root"),
    frequency: z.enum(TASK_FREQUENCIES, { message: "Choose how often the task runs" }),
    cron: z.string().nullish(),
  })
  .superRefine((task, ctx) => {
    if (task.frequency !== "custom") return;
    if (!task.cron?.trim()) {
      ctx.addIssue({ code: "custom", path: ["cron"], message: "Enter a cron expression for a custom schedule" });
      return;
    }
    const parsed = parseCronExpression(task.cron);
    if (!parsed.ok) ctx.addIssue({ code: "custom", path: ["cron"], message: parsed.message });
  });
// Kept a plain object schema (routers `.merge` it). Store `cronExpressionFor(input)` as the row's
// `cron`: the preset's expression, or the normalised custom one.
export type ScheduledTaskInput = z.output<typeof scheduledTaskInputSchema>;
