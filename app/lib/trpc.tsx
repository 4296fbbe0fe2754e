// The browser's tRPC client: queries and mutations over HTTP (/trpc, session cookie),
// subscriptions over one WebSocket (/trpc). TanStack Query caches; live events invalidate.
// superjson on every terminating link (the server's transformer): Dates arrive as Dates.
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useState } from "react";
import superjson from "superjson";
import type { AppRouter } from "../../trpc/router";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

function makeClient() {
  if (typeof window === "undefined") {
    // Server render: pages get their data from loaders (initialData); nothing is fetched here.
    return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: "http://127.0.0.1/trpc", transformer: superjson })] });
  }
  const ws = createWSClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/trpc`,
    // Connect when a page subscribes, not before: the socket authenticates once, with the
    // cookie of the moment it opens (the provider is re-created when the user changes).
    lazy: { enabled: true, closeMs: 10_000 },
    // Back off to at most 5 s between reconnects.
    retryDelayMs: (attempt) => Math.min(250 * 2 ** attempt, 5000),
    keepAlive: { enabled: true, intervalMs: 20_000, pongTimeoutMs: 5_000 },
  });
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: wsLink({ client: ws, transformer: superjson }),
        false: httpBatchLink({ url: "/trpc", transformer: superjson }),
      }),
    ],
  });
}

export function ApiProvider({ children }: { children: React.ReactNode }) {
  const [queryClient] = useState(
    () => new QueryClient({ defaultOptions: { queries: { staleTime: 60_000, refetchOnWindowFocus: false, retry: 1 } } }),
  );
  const [trpcClient] = useState(makeClient);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
