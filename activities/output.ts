// What a milestone's commands print, stored line by line while they run (OperationOutput), so
// the browser can follow a deploy log or a site command live and resume after a reconnect.
//
// The SSH client hands us chunks already redacted (OutputCollector redacts, holding back a
// possible partial secret, before it calls onOutput). We split them into lines per stream,
// drop the script's step markers (shell.ts `script`) and write lines in batches. Each line is
// keyed (operation, step, run, stream, line number), so an attach that replays a detached run's
// output from its first byte (a transport retry) inserts nothing twice. Each batch commits under
// a per-operation advisory lock, so ids follow commit order within an operation and a reader
// resuming "after id N" never skips a line committed late; it NOTIFYs `brokeforge_output` with
// ids only, in the same transaction (delivered at commit).
import type { OutputChunk } from "./ssh/client";
import { db } from "../core/db";

export const OUTPUT_CHANNEL = "brokeforge_output";
/** Per operation: past either, one note says how many lines were not kept. */
export const MAX_OUTPUT_LINES = 50_000;
export const MAX_OUTPUT_BYTES = 5 * 1024 * 1024;
/** A "line" without a newline (a progress bar) is cut into pieces of this many characters. */
export const MAX_LINE_CHARS = 4096;
const FLUSH_MS = 200;
const FLUSH_LINES = 200;
/** Rows per INSERT at most (6 parameters each, well under Postgres' 65,535). */
const MAX_WRITE_ROWS = 2000;
/** The truncation note's line number: fixed, so a replayed run cannot write a second one. */
const TRUNCATION_LINE = 1_000_000_000;

export type OutputStream = "stdout" | "stderr" | "note";

/** The NOTIFY payload: ids only, readers load the lines from the table (they check ownership). */
export interface OutputNotification {
  operationId: string;
  serverId: string;
  lastId: string;
}

const MARKER = /^::bf-step:[A-Za-z0-9]{8,64}:(begin|end):(\d+)(?::(\d+))?$/;
// CSI and OSC escape sequences (colours, cursor moves, titles): the viewer shows plain text.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

/**
 * Chunks in, lines out, per stream. A partial last line waits for its newline (or `end`).
 * The script's markers ("\n::bf-step:<nonce>:begin:0\n" on both streams) are dropped with the
 * empty line their leading newline makes; a step's begin on stdout becomes a note with its
 * label, a failed end a note with its exit code. Deterministic in the bytes alone, whatever
 * the chunking: a replay numbers every line as the first pass did.
 */
export class LineSplitter {
  #partial = { stdout: "", stderr: "" };
  // One empty line held back per stream: it is dropped if a marker follows (the marker's own "\n").
  #heldEmpty = { stdout: false, stderr: false };
  // The step each stream is in (between its begin and end markers), for quiet steps' lines.
  #step: { stdout: number | null; stderr: number | null } = { stdout: null, stderr: null };

  constructor(
    private readonly labels: readonly string[],
    private readonly emit: (stream: OutputStream, text: string) => void,
    /** Indices of Step.quiet steps: their lines and their begin note are not emitted (a failure's note is). */
    private readonly quiet: ReadonlySet<number> = new Set(),
  ) {}

  push(chunk: OutputChunk): void {
    const s = chunk.stream;
    let text = this.#partial[s] + chunk.text;
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      this.#line(s, text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    // Cut only on completed pieces: the same bytes give the same pieces however they arrive.
    while (text.length > MAX_LINE_CHARS) {
      this.#line(s, text.slice(0, MAX_LINE_CHARS));
      text = text.slice(MAX_LINE_CHARS);
    }
    this.#partial[s] = text;
  }

  /** The run ended: what is left of each stream is its last line. */
  end(): void {
    for (const s of ["stdout", "stderr"] as const) {
      if (this.#partial[s] !== "") this.#line(s, this.#partial[s]);
      this.#partial[s] = "";
      this.#releaseEmpty(s);
    }
  }

  #line(s: "stdout" | "stderr", raw: string): void {
    const marker = MARKER.exec(raw);
    if (marker) {
      this.#heldEmpty[s] = false;
      const index = Number(marker[2]);
      this.#step[s] = marker[1] === "begin" ? index : null;
      if (s !== "stdout") return;
      const label = this.labels[index] ?? `step ${index + 1}`;
      if (marker[1] === "begin") {
        if (!this.quiet.has(index)) this.emit("note", `▸ ${label}`);
      } else if (marker[3] !== undefined && marker[3] !== "0") this.emit("note", `✗ ${label} exited with ${marker[3]}`);
      return;
    }
    const step = this.#step[s];
    if (step !== null && this.quiet.has(step)) return;
    this.#releaseEmpty(s);
    const text = visible(raw);
    if (text === "") this.#heldEmpty[s] = true;
    else this.emit(s, text);
  }

  #releaseEmpty(s: "stdout" | "stderr"): void {
    if (!this.#heldEmpty[s]) return;
    this.#heldEmpty[s] = false;
    this.emit(s, "");
  }
}

/** What a terminal would show of a line: no escapes, only the last carriage-return segment. */
function visible(raw: string): string {
  let text = raw.replace(ESCAPES, "");
  if (text.endsWith("\r")) text = text.slice(0, -1);
  const cr = text.lastIndexOf("\r");
  return cr >= 0 ? text.slice(cr + 1) : text;
}

interface Row {
  operationId: string;
  step: number;
  run: number;
  stream: OutputStream;
  line: number;
  text: string;
}

export interface OutputWriterInput {
  operationId: string;
  serverId: string;
  step: number;
  /** The milestone's run number (real failures so far + 1): a transport retry keeps it. */
  run: number;
  /** The script's step labels, for the notes that head each step's output. */
  labels: readonly string[];
  /** Indices of the script's Step.quiet steps, whose output is not stored. */
  quiet?: readonly number[];
  warn?: (message: string, error: unknown) => void;
}

/**
 * Stores one milestone run's output. `onOutput` goes to SshConnection.exec; `finish` after it.
 * Writes never fail the milestone: a batch that cannot be stored is logged and skipped.
 */
export class OutputWriter {
  readonly #input: OutputWriterInput;
  readonly #splitter: LineSplitter;
  readonly #numbers: Record<OutputStream, number> = { stdout: 0, stderr: 0, note: 0 };
  #batch: Row[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Batches waiting while one is written: coalesced into the next write, so a slow database means bigger batches, not a queue. */
  #queued: Row[] = [];
  #writing: Promise<void> | null = null;
  #lines: number;
  #bytes: number;
  #dropped = 0;

  private constructor(input: OutputWriterInput, before: { lines: number; bytes: number }) {
    this.#input = input;
    this.#lines = before.lines;
    this.#bytes = before.bytes;
    this.#splitter = new LineSplitter(input.labels, (stream, text) => this.#add(stream, text), new Set(input.quiet));
  }

  /** Counts what the operation stored before this run (not this run's own lines: a replay recounts them). */
  static async open(input: OutputWriterInput): Promise<OutputWriter> {
    const [before] = await db().$queryRaw<{ lines: number; bytes: bigint }[]>`
      SELECT count(*)::int AS lines, coalesce(sum(octet_length("text")), 0)::bigint AS bytes
      FROM "OperationOutput"
      WHERE "operationId" = ${input.operationId} AND NOT ("step" = ${input.step} AND "run" = ${input.run})`;
    return new OutputWriter(input, { lines: before?.lines ?? 0, bytes: Number(before?.bytes ?? 0) });
  }

  readonly onOutput = (chunk: OutputChunk): void => this.#splitter.push(chunk);

  /**
   * `complete`: the run ended and its output is all here (its last partial line is a line, the
   * truncation note can say how many lines were dropped). Otherwise (the connection dropped,
   * the worker is cancelled) only whole lines are stored: the retry's replay completes them.
   */
  async finish(complete: boolean): Promise<void> {
    if (complete) {
      this.#splitter.end();
      if (this.#dropped > 0) {
        const more = this.#dropped.toLocaleString("en-US");
        this.#batch.push(this.#row("note", TRUNCATION_LINE, `… output truncated (${more} more line${this.#dropped === 1 ? "" : "s"})`));
      }
    }
    this.#flush();
    await this.#writing;
  }

  #row(stream: OutputStream, line: number, text: string): Row {
    const { operationId, step, run } = this.#input;
    return { operationId, step, run, stream, line, text };
  }

  #add(stream: OutputStream, text: string): void {
    const line = ++this.#numbers[stream];
    const bytes = Buffer.byteLength(text);
    if (this.#dropped > 0 || this.#lines + 1 > MAX_OUTPUT_LINES || this.#bytes + bytes > MAX_OUTPUT_BYTES) {
      this.#dropped++;
      return;
    }
    this.#lines++;
    this.#bytes += bytes;
    this.#batch.push(this.#row(stream, line, text));
    if (this.#batch.length >= FLUSH_LINES) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    this.#queued.push(...this.#batch);
    this.#batch = [];
    this.#writing ??= this.#drain();
  }

  /** One write at a time, in order (ids grow with the lines), each taking all that is queued. */
  async #drain(): Promise<void> {
    while (this.#queued.length > 0) {
      const rows = this.#queued.splice(0, MAX_WRITE_ROWS);
      try {
        await writeLines(this.#input.operationId, this.#input.serverId, rows);
      } catch (err) {
        this.#input.warn?.(`Could not store ${rows.length} output lines of operation ${this.#input.operationId}`, err);
      }
    }
    this.#writing = null;
  }
}

/**
 * Inserts lines (a replayed line is skipped) and announces the new ones; returns how many were
 * new. One statement with the columns as arrays: Prisma's createMany took ~1 s per 1,000 rows
 * here (its query building), this takes milliseconds.
 */
export async function writeLines(operationId: string, serverId: string, rows: Row[]): Promise<number> {
  const column = <K extends keyof Row>(key: K) => rows.map((r) => r[key]);
  const [, [result]] = await db().$transaction([
    // Held to commit: another writer of this operation (a zombie attempt) waits, so ids commit in order.
    db().$queryRaw`SELECT pg_advisory_xact_lock(hashtext(${`brokeforge_output:${operationId}`}))::text AS locked`,
    db().$queryRaw<{ inserted: number }[]>`
      WITH ins AS (
        INSERT INTO "OperationOutput" ("operationId", "step", "run", "stream", "line", "text")
        SELECT ${operationId}, u.step, u.run, u.stream, u.line, u.text
        FROM unnest(${column("step")}::int[], ${column("run")}::int[], ${column("stream")}::text[], ${column("line")}::int[], ${column("text")}::text[])
          AS u(step, run, stream, line, text)
        ON CONFLICT DO NOTHING
        RETURNING id
      ), agg AS (SELECT count(*)::int AS inserted, max(id) AS last FROM ins)
      SELECT inserted, CASE WHEN inserted > 0 THEN pg_notify(${OUTPUT_CHANNEL},
        json_build_object('operationId', ${operationId}::text, 'serverId', ${serverId}::text, 'lastId', last::text)::text) END::text AS notified
      FROM agg`,
  ]);
  return result?.inserted ?? 0;
}
