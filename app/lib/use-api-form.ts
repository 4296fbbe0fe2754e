// Client-side forms and buttons that call tRPC mutations: validate with the same zod schema
// the procedure uses, show field errors next to inputs, and the server's message otherwise.
import { TRPCClientError } from "@trpc/client";
import { useState } from "react";
import type { ZodType } from "zod";
import { fieldErrorsOf, type FieldErrors } from "../../domain/schemas";

export function useApiForm<S extends ZodType>(schema: S, call: (input: S["_output"]) => Promise<unknown>) {
  const [fieldErrors, setFieldErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  async function submit(values: Record<string, unknown>): Promise<boolean> {
    const parsed = schema.safeParse(values);
    if (!parsed.success) {
      setFieldErrors(fieldErrorsOf(parsed.error));
      setFormError(null);
      return false;
    }
    setPending(true);
    try {
      await call(parsed.data);
      setFieldErrors({});
      setFormError(null);
      return true;
    } catch (e) {
      const { fieldErrors: fe, message } = describeError(e);
      setFieldErrors(fe);
      setFormError(Object.keys(fe).length ? null : message);
      return false;
    } finally {
      setPending(false);
    }
  }
  return { submit, fieldErrors, formError, pending };
}

/** For row buttons (retry, remove, …): runs a call, keeps its error message. */
export function useApiAction() {
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  async function run(call: () => Promise<unknown>) {
    setPending(true);
    setError(null);
    try {
      await call();
    } catch (e) {
      setError(describeError(e).message);
    } finally {
      setPending(false);
    }
  }
  return { run, error, pending };
}

function describeError(e: unknown): { fieldErrors: FieldErrors; message: string } {
  if (e instanceof TRPCClientError) {
    const data = e.data as { fieldErrors?: FieldErrors | null } | undefined;
    return { fieldErrors: data?.fieldErrors ?? {}, message: e.message };
  }
  return { fieldErrors: {}, message: e instanceof Error ? e.message : String(e) };
}

/** Form fields as a plain object; checkboxes as booleans. */
export function formObject(form: HTMLFormElement): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const el of Array.from(form.elements)) {
    const input = el as HTMLInputElement;
    if (!input.name) continue;
    out[input.name] = input.type === "checkbox" ? input.checked : input.value;
  }
  return out;
}
