// An operation's output (a deploy log, a site command's output), live: lines arrive over the
// `operations.output` subscription, which resumes after the last line id on a reconnect (tRPC
// resends it), so nothing is lost or doubled. Only the rows in view are in the DOM (fixed row
// height), so 50,000 lines scroll as smoothly as 50. It follows the end while the reader is at
// the bottom, and stops following once they scroll up.
import { useSubscription } from "@trpc/tanstack-react-query";
import { useCallback, useLayoutEffect, useRef, useState } from "react";
import type { OutputEvent, OutputLineDto } from "../../trpc/routers/operations";
import { useTRPC } from "../lib/trpc";

const ROW_PX = 20;
const OVERSCAN = 20;
/** The server's truncation note (activities/output.ts) starts with this. */
const TRUNCATED = "… output truncated";

export function LogViewer({ operationId, heightPx = 480 }: { operationId: string; heightPx?: number }) {
  // A fresh log per operation: nothing of the previous one's lines or scroll position is kept.
  return <Log key={operationId} operationId={operationId} heightPx={heightPx} />;
}

function Log({ operationId, heightPx }: { operationId: string; heightPx: number }) {
  const trpc = useTRPC();
  // Appended in place (copying a 50,000-line array per batch would be the slow part); `count` renders.
  const [store] = useState(() => new LineStore());
  const [count, setCount] = useState(0);
  const [done, setDone] = useState<OutputEvent["done"]>(null);
  const [truncated, setTruncated] = useState(false);
  const [follow, setFollow] = useState(true);
  const [scrollTop, setScrollTop] = useState(0);
  const box = useRef<HTMLDivElement>(null);

  const onData = useCallback(
    (event: { id: string; data: OutputEvent }) => {
      const added = store.append(event.data.lines);
      if (added.some((line) => line.stream === "note" && line.text.startsWith(TRUNCATED))) setTruncated(true);
      if (added.length > 0) setCount(store.lines.length);
      if (event.data.done) setDone(event.data.done);
    },
    [store],
  );

  const sub = useSubscription(trpc.operations.output.subscriptionOptions({ operationId }, { onData }));

  // Follow the end: after new lines, scroll to the bottom unless the reader scrolled up.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [count, follow]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    setScrollTop(el.scrollTop);
    setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_PX);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + heightPx) / ROW_PX) + OVERSCAN);
  const visible = store.lines.slice(first, last);
  const state = done ? `Finished (${done})` : sub.status === "error" ? "Disconnected, retrying…" : "Live";

  return (
    <div className="rounded-md border border-slate-200 bg-slate-950 text-slate-100" data-testid="log-viewer" data-lines={count}>
      <div className="flex items-center justify-between border-b border-slate-800 px-3 py-1.5 text-xs text-slate-400">
        <span role="status" data-testid="log-state">
          {state} · {count.toLocaleString("en-US")} lines
        </span>
        {truncated && (
          <span className="rounded bg-amber-900 px-1.5 py-0.5 text-amber-200" data-testid="log-truncated">
            Truncated: later lines were not kept
          </span>
        )}
        {!follow && (
          <button type="button" className="underline hover:text-slate-200" onClick={() => setFollow(true)}>
            Follow the end
          </button>
        )}
      </div>
      <div ref={box} onScroll={onScroll} className="overflow-auto font-mono text-xs" style={{ height: heightPx }}>
        <div style={{ height: count * ROW_PX, position: "relative" }}>
          {visible.map((line, i) => (
            <div
              key={line.id}
              className={`absolute left-0 right-0 whitespace-pre px-3 ${lineColour(line)}`}
              style={{ top: (first + i) * ROW_PX, height: ROW_PX, lineHeight: `${ROW_PX}px` }}
            >
              {line.text || " "}
            </div>
          ))}
        </div>
        {count === 0 && <div className="px-3 py-2 text-slate-500">{done ? "No output." : "Waiting for output…"}</div>}
      </div>
    </div>
  );
}

/** The lines so far, in id order; a line already held (resent after a reconnect) is skipped. */
class LineStore {
  readonly lines: OutputLineDto[] = [];
  #lastId = 0n;

  append(lines: readonly OutputLineDto[]): OutputLineDto[] {
    const added = lines.filter((line) => BigInt(line.id) > this.#lastId);
    if (added.length === 0) return added;
    this.#lastId = BigInt(added.at(-1)!.id);
    this.lines.push(...added);
    return added;
  }
}

function lineColour(line: OutputLineDto): string {
  if (line.stream === "stderr") return "text-red-300";
  if (line.stream === "note") return line.text.startsWith(TRUNCATED) ? "text-amber-300" : "font-semibold text-sky-300";
  return "";
}
