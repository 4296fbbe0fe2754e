// Reads Temporal workflow histories into plain timestamps (epoch ms, server clock = this machine).
import type { Client } from "@temporalio/client";
import { defaultPayloadConverter } from "@temporalio/common";
import type { temporal } from "@temporalio/proto";
import { median, percentile, round } from "./stats";

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function ms(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return NaN;
  return Number(String(ts.seconds ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6;
}
const idOf = (x: unknown) => Number(String(x));

export interface ActivitySpan {
  name: string;
  scheduled: number;
  started: number;
  completed: number;
  attempt: number;
  input?: unknown;
}

export interface WorkflowTaskSpan {
  /** Task queue kind the server put it on: sticky (this worker's cache) or the normal, partitioned queue. */
  sticky: boolean;
  scheduled: number;
  started: number;
  completed: number;
}

export interface OperationHistory {
  workflowId: string;
  started: number;
  closed: number;
  status: "completed" | "failed" | "other";
  activities: ActivitySpan[];
  workflowTasks: WorkflowTaskSpan[];
}

// TASK_QUEUE_KIND_STICKY = 2
const isSticky = (tq: { kind?: unknown } | null | undefined) => Number(tq?.kind ?? 0) === 2;

async function events(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** The child workflow of one operation: its activities (scheduled/started/completed) and workflow tasks. */
export async function operationHistory(client: Client, workflowId: string): Promise<OperationHistory> {
  const evs = await events(client, workflowId);
  const byId = new Map<number, ActivitySpan>();
  const wftById = new Map<number, WorkflowTaskSpan>();
  const out: OperationHistory = { workflowId, started: NaN, closed: NaN, status: "other", activities: [], workflowTasks: [] };
  for (const e of evs) {
    const t = ms(e.eventTime);
    const id = idOf(e.eventId);
    if (e.workflowExecutionStartedEventAttributes) out.started = t;
    else if (e.workflowExecutionCompletedEventAttributes) {
      out.closed = t;
      out.status = "completed";
    } else if (e.workflowExecutionFailedEventAttributes) {
      out.closed = t;
      out.status = "failed";
    } else if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      const payload = a.input?.payloads?.[0];
      const span: ActivitySpan = {
        name: a.activityType?.name ?? "?",
        scheduled: t,
        started: NaN,
        completed: NaN,
        attempt: 1,
        input: payload ? defaultPayloadConverter.fromPayload(payload) : undefined,
      };
      byId.set(id, span);
      out.activities.push(span);
    } else if (e.activityTaskStartedEventAttributes) {
      const a = e.activityTaskStartedEventAttributes;
      const span = byId.get(idOf(a.scheduledEventId));
      if (span) {
        span.started = t;
        span.attempt = a.attempt ?? 1;
      }
    } else if (e.activityTaskCompletedEventAttributes) {
      const span = byId.get(idOf(e.activityTaskCompletedEventAttributes.scheduledEventId));
      if (span) span.completed = t;
    } else if (e.workflowTaskScheduledEventAttributes) {
      const span = { sticky: isSticky(e.workflowTaskScheduledEventAttributes.taskQueue), scheduled: t, started: NaN, completed: NaN };
      wftById.set(id, span);
      out.workflowTasks.push(span);
    } else if (e.workflowTaskStartedEventAttributes) {
      const span = wftById.get(idOf(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (span) span.started = t;
    } else if (e.workflowTaskCompletedEventAttributes) {
      const span = wftById.get(idOf(e.workflowTaskCompletedEventAttributes.scheduledEventId));
      if (span) span.completed = t;
    }
  }
  return out;
}

export interface ChildSpan {
  workflowId: string;
  initiated: number;
  started: number;
  closed: number;
}

/** The server queue workflow's view of its children: start initiated → started → closed. */
export async function queueHistory(
  client: Client,
  workflowId: string,
): Promise<{ children: ChildSpan[]; workflowTasks: WorkflowTaskSpan[] }> {
  const evs = await events(client, workflowId);
  const byInitiated = new Map<number, ChildSpan>();
  const wftById = new Map<number, WorkflowTaskSpan>();
  const children: ChildSpan[] = [];
  const workflowTasks: WorkflowTaskSpan[] = [];
  for (const e of evs) {
    const t = ms(e.eventTime);
    const id = idOf(e.eventId);
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) {
      const span = {
        workflowId: e.startChildWorkflowExecutionInitiatedEventAttributes.workflowId ?? "",
        initiated: t,
        started: NaN,
        closed: NaN,
      };
      byInitiated.set(id, span);
      children.push(span);
    } else if (e.childWorkflowExecutionStartedEventAttributes) {
      const span = byInitiated.get(idOf(e.childWorkflowExecutionStartedEventAttributes.initiatedEventId));
      if (span) span.started = t;
    } else if (e.childWorkflowExecutionCompletedEventAttributes) {
      const span = byInitiated.get(idOf(e.childWorkflowExecutionCompletedEventAttributes.initiatedEventId));
      if (span) span.closed = t;
    } else if (e.workflowTaskScheduledEventAttributes) {
      const span = { sticky: isSticky(e.workflowTaskScheduledEventAttributes.taskQueue), scheduled: t, started: NaN, completed: NaN };
      wftById.set(id, span);
      workflowTasks.push(span);
    } else if (e.workflowTaskStartedEventAttributes) {
      const span = wftById.get(idOf(e.workflowTaskStartedEventAttributes.scheduledEventId));
      if (span) span.started = t;
    } else if (e.workflowTaskCompletedEventAttributes) {
      const span = wftById.get(idOf(e.workflowTaskCompletedEventAttributes.scheduledEventId));
      if (span) span.completed = t;
    }
  }
  return { children, workflowTasks };
}

/** Workflow task dispatch (scheduled→started) split by queue kind, as one line. */
export function wftDispatchSplit(wfts: WorkflowTaskSpan[]): string {
  const d = (sticky: boolean) =>
    wfts
      .filter((w) => w.sticky === sticky)
      .map((w) => w.started - w.scheduled)
      .filter(Number.isFinite);
  const st = d(true);
  const no = d(false);
  return `sticky queue ${st.length}× p50 ${round(median(st))} ms (p90 ${round(percentile(st, 90))}), normal queue ${no.length}× p50 ${round(median(no))} ms (p90 ${round(percentile(no, 90))})`;
}
