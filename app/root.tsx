import type { LinksFunction, LoaderFunctionArgs, MetaFunction } from "@remix-run/node";
import {
  Form,
  Link,
  Links,
  Meta,
  NavLink,
  Outlet,
  Scripts,
  ScrollRestoration,
  isRouteErrorResponse,
  useLoaderData,
  useRouteError,
} from "@remix-run/react";
import { ApiProvider } from "./lib/trpc";
import stylesheet from "./tailwind.css";

export const links: LinksFunction = () => [
  { rel: "stylesheet", href: stylesheet },
  { rel: "icon", href: "/favicon.svg", type: "image/svg+xml" },
];
export const meta: MetaFunction = () => [{ title: "BrokeForge" }];

export async function loader({ request, context }: LoaderFunctionArgs) {
  const user = await context.currentUser(request);
  return { user: user ? { email: user.email } : null };
}

export function Layout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" className="h-full bg-slate-50">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body className="h-full text-slate-900 antialiased">
        {children}
        <ScrollRestoration />
        <Scripts />
      </body>
    </html>
  );
}

export default function App() {
  const { user } = useLoaderData<typeof loader>();
  return (
    <ApiProvider key={user?.email ?? "signed-out"}>
      <div className="min-h-full">
        <header className="border-b border-slate-200 bg-white">
          <div className="mx-auto flex max-w-5xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
            <Link to="/" className="text-lg font-semibold tracking-tight">
              <span aria-hidden>⚒</span> BrokeForge
            </Link>
            {user ? (
              <>
                <nav className="flex gap-4 text-sm" aria-label="Main">
                  <NavItem to="/" end>
                    Servers
                  </NavItem>
                  <NavItem to="/settings/tokens">API tokens</NavItem>
                </nav>
                <div className="ml-auto flex items-center gap-3 text-sm">
                  <span className="text-slate-500" data-testid="current-user">
                    {user.email}
                  </span>
                  <Form method="post" action="/logout">
                    <button className="rounded px-2 py-1 text-slate-600 hover:bg-slate-100">Log out</button>
                  </Form>
                </div>
              </>
            ) : (
              <nav className="ml-auto flex gap-4 text-sm">
                <NavItem to="/login">Log in</NavItem>
                <NavItem to="/signup">Sign up</NavItem>
              </nav>
            )}
          </div>
        </header>
        <main className="mx-auto max-w-5xl px-4 py-8">
          <Outlet />
        </main>
      </div>
    </ApiProvider>
  );
}

function NavItem({ to, end, children }: { to: string; end?: boolean; children: React.ReactNode }) {
  return (
    <NavLink
      to={to}
      end={end}
      className={({ isActive }) => (isActive ? "font-medium text-slate-900" : "text-slate-500 hover:text-slate-900")}
    >
      {children}
    </NavLink>
  );
}

export function ErrorBoundary() {
  const error = useRouteError();
  const title = isRouteErrorResponse(error) ? `${error.status} ${error.statusText}` : "Something went wrong";
  const detail = isRouteErrorResponse(error) ? (typeof error.data === "string" ? error.data : null) : null;
  return (
    <main className="mx-auto max-w-xl px-4 py-16 text-center">
      <h1 className="text-2xl font-semibold">{title}</h1>
      {detail ? <p className="mt-2 text-slate-600">{detail}</p> : null}
      <a href="/" className="mt-6 inline-block text-blue-700 underline">
        Back to servers
      </a>
    </main>
  );
}
