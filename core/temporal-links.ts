import { webEnv } from "./env";

/** Link to a workflow (run) in the Temporal UI, for operators. */
export function temporalUrl(workflowId: string | null, runId: string | null): string | null {
  if (!workflowId) return null;
  const env = webEnv();
  const base = `${env.TEMPORAL_UI_URL}/namespaces/${encodeURIComponent(env.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${runId}` : base;
}
