// Live updates, the seed's pattern: an event names what changed (ids only); we invalidate the
// queries that show it and they refetch from the tRPC procedures. Bursts are coalesced, so a
// five-milestone operation does not cause five refetches of a page.
import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { createContext, useContext, useEffect, useMemo, useState } from "react";
import { ALL_KINDS } from "../../catalogue";
import type { LiveEvent } from "../../domain/live";
import { useTRPC } from "./trpc";

const DEBOUNCE_MS = 150;

/** Collects entity names ("*": everything) and hands them over once no more arrive for `ms`. */
function coalescer(ms: number) {
  const pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    add(entity: string, flush: (entities: readonly string[]) => void) {
      pending.add(entity);
      clearTimeout(timer);
      timer = setTimeout(() => {
        const entities = [...pending];
        pending.clear();
        flush(entities);
      }, ms);
    },
    cancel() {
      clearTimeout(timer);
    },
  };
}

export type LiveStatus = "live" | "connecting" | "offline";
const LiveStatusContext = createContext<LiveStatus>("connecting");
export const useLiveStatus = () => useContext(LiveStatusContext);

/** Subscribes to one server's events, or to all of the user's (no serverId). */
export function LiveUpdates({ serverId, children }: { serverId?: string; children: React.ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  // One batch per mounted component (state, not a ref: it is never read during render).
  const [batch] = useState(() => coalescer(DEBOUNCE_MS));

  const flush = useMemo(
    () => (entities: readonly string[]) => {
      const all = entities.includes("*");
      const touched = (...names: string[]) => all || names.some((n) => entities.includes(n));
      const filters = [
        // The servers' queries carry their provisioning (role, status, step) too.
        touched("server", "operation", "provisioning") && trpc.servers.pathFilter(),
        touched("operation", "operation_milestone") && trpc.operations.pathFilter(),
        // Each resource kind's list refetches when its table changes.
        ...ALL_KINDS.map((kind) => touched(kind.entity) && trpc[kind.api].pathFilter()),
        // A site's page and lists read its deployments (history, live release, rollback candidates) through sites.*.
        touched("deployment") && trpc.sites.pathFilter(),
      ];
      for (const f of filters) if (f) void queryClient.invalidateQueries(f);
    },
    [trpc, queryClient],
  );

  const schedule = (entity: string) => batch.add(entity, flush);
  useEffect(() => () => batch.cancel(), [batch]);

  const handlers = {
    // (Re)connected without a resume point: refetch once, anything may have changed meanwhile.
    onStarted: () => schedule("*"),
    onData: (event: { data: LiveEvent }) => event.data.entity !== "stream" && schedule(event.data.entity),
  };
  const sub = useSubscription(
    serverId ? trpc.live.server.subscriptionOptions({ serverId }, handlers) : trpc.live.all.subscriptionOptions({}, handlers),
  );
  const status: LiveStatus = sub.status === "pending" ? "live" : sub.status === "error" ? "offline" : "connecting";
  return <LiveStatusContext.Provider value={status}>{children}</LiveStatusContext.Provider>;
}

export function LiveIndicator() {
  const status = useLiveStatus();
  const label = { live: "Live", connecting: "Reconnecting…", offline: "Offline" }[status];
  const dot = { live: "bg-green-500", connecting: "bg-amber-400 animate-pulse", offline: "bg-red-500" }[status];
  return (
    <span
      className="inline-flex items-center gap-1.5 text-xs text-slate-500"
      data-testid="live-indicator"
      data-status={status}
      role="status"
    >
      <span aria-hidden className={`h-2 w-2 rounded-full ${dot}`} />
      {label}
    </span>
  );
}
