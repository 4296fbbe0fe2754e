// Helpers for Remix loaders/actions: auth gate and turning tRPC errors into form errors.
import { redirect } from "@remix-run/node";
import type { AppLoadContext } from "@remix-run/node";
import { TRPCError } from "@trpc/server";
import { ZodError, type ZodType } from "zod";
import { fieldErrorsOf, type FieldErrors } from "../../domain/schemas";

export async function requireApi(request: Request, context: AppLoadContext) {
  const user = await context.currentUser(request);
  if (!user) {
    const url = new URL(request.url);
    throw redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  }
  return context.api(request);
}

export type FormResult<T> =
  { ok: true; data: T } | { ok: false; fieldErrors: FieldErrors; formError: string | null; values?: Record<string, string> };

export function formValues(formData: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of formData) if (typeof v === "string") out[k] = v;
  return out;
}

/** Validates with the same zod schema the tRPC procedure uses, then calls it. */
export async function submit<S extends ZodType, T>(
  schema: S,
  values: Record<string, string>,
  call: (input: S["_output"]) => Promise<T>,
): Promise<FormResult<T>> {
  const parsed = schema.safeParse(values);
  if (!parsed.success) return { ok: false, fieldErrors: fieldErrorsOf(parsed.error), formError: null, values };
  return attempt(() => call(parsed.data), values);
}

export async function attempt<T>(call: () => Promise<T>, values?: Record<string, string>): Promise<FormResult<T>> {
  try {
    return { ok: true, data: await call() };
  } catch (e) {
    if (e instanceof TRPCError) {
      if (e.cause instanceof ZodError) return { ok: false, fieldErrors: fieldErrorsOf(e.cause), formError: null, values };
      if (e.code === "NOT_FOUND") throw new Response(e.message, { status: 404, statusText: "Not Found" });
      return { ok: false, fieldErrors: {}, formError: e.message, values };
    }
    throw e;
  }
}
