// Supervisor program (daemon) input, shared by the browser form, tRPC and the supervisor
// package builders. No server imports here: this file is bundled into the browser too.
import { z } from "zod";
import { singleLineCommandSchema } from "./scheduler";
import { serverNameSchema, sshUserSchema } from "./schemas";

/** Where a program runs when the form leaves it empty: the site user's home (sites live there). */
export const DEFAULT_PROGRAM_DIRECTORY = "/home/brokeforge";

/**
 * Values go into an INI file that supervisor reads with Python's configparser, which treats
 * `;` or `#` after whitespace as the start of an inline comment (the rest of the value is
 * silently dropped). There is no escape for that, so such values are refused. Line breaks
 * (which would start a new config key) are refused by the caller's schema; `%` is escaped
 * by the package builder (`%%`), so it is allowed.
 */
export function supervisorValueProblem(v: string): string | null {
  if (/[\0-\x08\x0a-\x1f\x7f\x85\u2028\u2029]/.test(v)) return "must be a single line without control characters";
  if (/[\s\x85][;#]/.test(v)) return "can't contain a space followed by ; or # (supervisor reads that as a comment)";
  return null;
}

/**
 * Supervisor runs the command itself, splitting it like a POSIX shell would split words
 * (quotes work) but WITHOUT a shell: no pipes, `&&`, redirects or `$VARS`. Use
 * `bash -c '…'` or a script for those.
 */
export const supervisorCommandSchema = singleLineCommandSchema.superRefine((v, ctx) => {
  const problem = supervisorValueProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: `Command ${problem}` });
});

export const programDirectorySchema = z
  .string({ message: "Directory is required" })
  .trim()
  .min(1, "Directory is required")
  .max(1024, "Directory must be at most 1024 characters")
  .refine((v) => v.startsWith("/"), "Directory must be an absolute path, like /home/brokeforge/example.com")
  .superRefine((v, ctx) => {
    const problem = supervisorValueProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: `Directory ${problem}` });
  });

export const supervisorProgramInputSchema = z.object({
  name: serverNameSchema,
  command: supervisorCommandSchema,
  directory: programDirectorySchema.default(DEFAULT_PROGRAM_DIRECTORY),
  user: sshUserSchema.default("root"),
  numprocs: z.coerce
    .number({ message: "Processes must be a number" })
    .int("Processes must be a whole number")
    .min(1, "Run between 1 and 20 processes")
    .max(20, "Run between 1 and 20 processes")
    .default(1),
  autostart: z.boolean({ message: "Autostart must be on or off" }).default(true),
  autorestart: z.boolean({ message: "Autorestart must be on or off" }).default(true),
});
export type SupervisorProgramInput = z.output<typeof supervisorProgramInputSchema>;
