// Input schemas shared by the browser forms, tRPC procedures and workflows.
// No server imports here: this file is bundled into the browser too.
import { z } from "zod";

const HOSTNAME = /^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An IPv4/IPv6 address or a DNS name; no URLs, no spaces, no shell metacharacters. */
export const hostSchema = z
  .string()
  .trim()
  .min(1, "Host is required")
  .max(253, "Host is too long")
  .refine((v) => IPV4.test(v) || isIpv6(v) || (HOSTNAME.test(v) && !/^[\d.]+$/.test(v)), {
    message: "Enter an IP address or a host name",
  });

function isIpv6(v: string): boolean {
  if (!v.includes(":") || !/^[0-9A-Fa-f:.]+$/.test(v)) return false;
  const parts = v.split("::");
  if (parts.length > 2) return false;
  const groups = v.split(":").filter((g) => g !== "");
  return groups.length <= 8 && groups.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g) || IPV4.test(g));
}

export const serverNameSchema = z
  .string({ message: "Name is required" })
  .trim()
  .min(1, "Name is required")
  .max(64, "Name must be at most 64 characters");

export const sshPortSchema = z.coerce
  .number({ message: "Port must be a number" })
  .int("Port must be a whole number")
  .min(1, "Port must be between 1 and 65535")
  .max(65535, "Port must be between 1 and 65535");

/** A POSIX login name, as useradd accepts it. */
export const sshUserSchema = z
  .string()
  .trim()
  .min(1, "User is required")
  .max(32, "User must be at most 32 characters")
  .regex(/^[a-z_][a-z0-9_-]*\$?$/, "Use a login name like root or deploy");

export const serverInputSchema = z.object({
  name: serverNameSchema,
  host: hostSchema,
  sshPort: sshPortSchema.default(22),
  sshUser: sshUserSchema.default("root"),
});
export type ServerInput = z.infer<typeof serverInputSchema>;

export const serverIdSchema = z.object({ id: z.string().min(1).max(64) });

export const emailSchema = z.string().trim().toLowerCase().max(254, "Email is too long").email("Enter a valid email address");

export const signupSchema = z.object({
  email: emailSchema,
  password: z.string().min(10, "Use at least 10 characters").max(256, "Password is too long"),
});

export const loginSchema = z.object({
  email: emailSchema,
  password: z.string().min(1, "Password is required").max(256),
});

export const apiTokenCreateSchema = z.object({
  name: z.string().trim().min(1, "Name is required").max(64, "Name must be at most 64 characters"),
});

/** Field errors keyed by input name, as forms render them. */
export type FieldErrors = Partial<Record<string, string>>;

export function fieldErrorsOf(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? "form");
    out[key] ??= issue.message;
  }
  return out;
}
