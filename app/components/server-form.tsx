import { Form, Link, useNavigation } from "@remix-run/react";
import type { FieldErrors } from "../../domain/schemas";
import { Button, Field, FormError } from "./ui";

export function ServerForm(props: {
  defaults?: { name?: string; host?: string; sshPort?: number | string; sshUser?: string };
  fieldErrors?: FieldErrors;
  formError?: string | null;
  submitLabel: string;
  cancelTo: string;
  /** More fields after the connection's (the new-server form's role picker). */
  children?: React.ReactNode;
}) {
  const busy = useNavigation().state !== "idle";
  const e = props.fieldErrors ?? {};
  return (
    <Form method="post" className="mt-6 max-w-lg space-y-4" noValidate>
      <Field label="Name" name="name" defaultValue={props.defaults?.name} error={e.name} hint="For you, e.g. web-1." />
      <Field label="Host or IP address" name="host" defaultValue={props.defaults?.host} error={e.host} />
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        <Field label="SSH port" name="sshPort" type="number" defaultValue={props.defaults?.sshPort ?? 22} error={e.sshPort} />
        <Field
          label="Login user"
          name="sshUser"
          defaultValue={props.defaults?.sshUser ?? "root"}
          error={e.sshUser}
          hint="root, or a user with passwordless sudo: BrokeForge runs its commands as root through sudo -n."
        />
      </div>
      {props.children}
      <FormError message={props.formError} />
      <div className="flex gap-3">
        <Button type="submit" disabled={busy}>
          {props.submitLabel}
        </Button>
        <Link to={props.cancelTo} className="rounded-md px-3 py-2 text-sm text-slate-600 hover:bg-slate-100">
          Cancel
        </Link>
      </div>
    </Form>
  );
}
