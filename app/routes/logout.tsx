import type { ActionFunctionArgs } from "@remix-run/node";
import { redirect } from "@remix-run/node";

export async function action({ request, context }: ActionFunctionArgs) {
  const cleared = await context.auth.endSession(request.headers.get("cookie"));
  return redirect("/login", { headers: { "Set-Cookie": cleared } });
}

export async function loader() {
  return redirect("/");
}
