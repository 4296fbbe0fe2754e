import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useNavigation, useSearchParams } from "@remix-run/react";
import { fieldErrorsOf, loginSchema, type FieldErrors } from "../../domain/schemas";
import { Button, Field, FormError } from "../components/ui";
import { formValues } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "Log in · BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (await context.currentUser(request)) throw redirect("/");
  return null;
}

/** Only same-site paths, so ?next= cannot send a user elsewhere. */
function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export async function action({ request, context }: ActionFunctionArgs) {
  const values = formValues(await request.formData());
  const parsed = loginSchema.safeParse(values);
  if (!parsed.success)
    return data({ fieldErrors: fieldErrorsOf(parsed.error), formError: null as string | null, email: values.email ?? "" }, 400);
  try {
    const user = await context.auth.login({ ...parsed.data, ip: context.ip });
    return redirect(safeNext(values.next), { headers: { "Set-Cookie": await context.auth.startSession(user.id) } });
  } catch (e) {
    const err = e as { code?: string; message: string };
    if (err.code === "INVALID_CREDENTIALS" || err.code === "RATE_LIMITED") {
      return data(
        { fieldErrors: {} as FieldErrors, formError: err.message as string | null, email: parsed.data.email },
        err.code === "RATE_LIMITED" ? 429 : 401,
      );
    }
    throw e;
  }
}

export default function Login() {
  const result = useActionData<typeof action>();
  const [params] = useSearchParams();
  const busy = useNavigation().state !== "idle";
  return (
    <div className="mx-auto max-w-sm">
      <h1 className="text-2xl font-semibold">Log in</h1>
      <Form method="post" className="mt-6 space-y-4" noValidate>
        <input type="hidden" name="next" value={params.get("next") ?? "/"} />
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          defaultValue={result?.email}
          error={result?.fieldErrors.email}
        />
        <Field label="Password" name="password" type="password" autoComplete="current-password" error={result?.fieldErrors.password} />
        <FormError message={result?.formError} />
        <Button type="submit" disabled={busy} className="w-full">
          Log in
        </Button>
      </Form>
      <p className="mt-4 text-sm text-slate-600">
        New here?{" "}
        <Link to="/signup" className="text-blue-700 underline">
          Create an account
        </Link>
      </p>
    </div>
  );
}
