import type { ActionFunctionArgs, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import { data, redirect } from "@remix-run/node";
import { Form, Link, useActionData, useNavigation } from "@remix-run/react";
import { signupSchema, fieldErrorsOf, type FieldErrors } from "../../domain/schemas";
import { Button, Field, FormError } from "../components/ui";
import { formValues } from "../lib/forms";

export const meta: MetaFunction = () => [{ title: "Sign up · BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  if (await context.currentUser(request)) throw redirect("/");
  return null;
}

export async function action({ request, context }: ActionFunctionArgs) {
  const values = formValues(await request.formData());
  const parsed = signupSchema.safeParse(values);
  if (!parsed.success) return data({ fieldErrors: fieldErrorsOf(parsed.error), email: values.email ?? "" }, 400);
  try {
    const user = await context.auth.signup(parsed.data);
    return redirect("/", { headers: { "Set-Cookie": await context.auth.startSession(user.id) } });
  } catch (e) {
    const err = e as { code?: string; field?: string; message: string };
    if (err.code === "EMAIL_TAKEN") return data({ fieldErrors: { email: err.message } as FieldErrors, email: parsed.data.email }, 400);
    throw e;
  }
}

export default function Signup() {
  const result = useActionData<typeof action>();
  const busy = useNavigation().state !== "idle";
  return (
    <div className="mx-auto max-w-sm">
      <h1 className="text-2xl font-semibold">Create your account</h1>
      <Form method="post" className="mt-6 space-y-4" noValidate>
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="email"
          defaultValue={result?.email}
          error={result?.fieldErrors.email}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          error={result?.fieldErrors.password}
          hint="At least 10 characters."
        />
        <FormError message={result?.fieldErrors.form} />
        <Button type="submit" disabled={busy} className="w-full">
          Sign up
        </Button>
      </Form>
      <p className="mt-4 text-sm text-slate-600">
        Already have an account?{" "}
        <Link to="/login" className="text-blue-700 underline">
          Log in
        </Link>
      </p>
    </div>
  );
}
