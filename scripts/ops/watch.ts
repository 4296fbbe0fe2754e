// `watch [<serverId>] [--since <eventId>]`: live change events as JSON lines on stdout, until
// SIGINT/SIGTERM. Notices (subscribed, connection lost, reconnected) go to stderr only, so
// stdout stays machine-readable. Reconnecting and resuming is the client library's job: it
// re-subscribes with the id of the last event received and the server replays what was missed.
import type { LiveEvent } from "../../domain/live";
import { parse, reportError, UsageError, type Ctx } from "./context";

export async function watch(args: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parse(args, { since: { type: "string" } });
  if (positionals.length > 1) throw new UsageError(`Unexpected argument: ${positionals[1]}`);
  const serverId = positionals[0];
  const since = values.since;
  const { trpc } = ctx.api();
  const scope = serverId ? `server ${serverId}` : "all servers";

  return new Promise<number>((resolve) => {
    let lastId: string | null = since ?? null;
    let starts = 0;
    let lost = false;
    let done = false;

    const finish = (code: number) => {
      if (done) return;
      done = true;
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      subscription.unsubscribe();
      resolve(code);
    };
    const stop = () => finish(0);

    const observer = {
      onStarted() {
        starts += 1;
        lost = false;
        if (starts === 1) {
          console.error(`watch: subscribed to ${scope}, ${since ? `replaying after event ${since}` : "from now"} (Ctrl-C stops)`);
        } else {
          console.error(
            `watch: reconnected, resuming ${lastId ? `after event ${lastId}` : "from now (no event received before the loss)"}`,
          );
        }
      },
      onData({ id, data }: { id: string; data: LiveEvent }) {
        lastId = id;
        if (data.entity === "stream") return; // the resume point of a fresh subscription, not a change
        const line = { id: data.id, serverId: data.serverId, entity: data.entity, entityId: data.entityId, action: data.action };
        process.stdout.write(`${JSON.stringify(line)}\n`);
      },
      onConnectionStateChange(state: { state: string; error: Error | null }) {
        if (state.state !== "connecting" || !state.error || lost) return;
        lost = true;
        console.error(`watch: connection lost (${state.error.message}), reconnecting…`);
      },
      onError(err: unknown) {
        if (done) return;
        reportError(err, ctx.url);
        finish(1);
      },
      onComplete() {
        if (done) return;
        console.error("watch: the server ended the subscription");
        finish(1);
      },
    };

    const subscription = serverId
      ? trpc.live.server.subscribe({ serverId, lastEventId: since }, observer)
      : trpc.live.all.subscribe({ lastEventId: since }, observer);
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // A closed pipe (`… | head`) is a normal way to stop.
    process.stdout.on("error", (e: NodeJS.ErrnoException) => finish(e.code === "EPIPE" ? 0 : 1));
  });
}
