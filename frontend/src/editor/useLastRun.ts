// The newest instance of the workflow (a Run from the editor, a webhook, a schedule) and its step
// history, re-read when the window regains focus (back from the live view or another tab).
import { useCallback, useEffect, useMemo, useState } from "react";
import { api } from "../api/client";
import { newestOnly } from "../exclusive";
import { nodeRuns, type InstanceRun } from "./lastRun";

export function useLastRun(workflowId: number) {
  const [run, setRun] = useState<InstanceRun | null>(null);
  const ticket = useMemo(() => newestOnly(), []);
  const load = useCallback(async () => {
    const newest = ticket();
    const { data } = await api.GET("/api/v1/instances", { params: { query: { workflow: workflowId, limit: 1 } } });
    const first = data?.items[0];
    if (!first) { if (newest()) setRun(null); return; }
    const { data: status } = await api.GET("/api/v1/instances/{instance_id}", { params: { path: { instance_id: String(first.id) } } });
    // The status endpoint answers free-form JSON (engine/api.py); InstanceRun names the fields read here.
    if (newest()) setRun((status as unknown as InstanceRun) ?? null);
  }, [ticket, workflowId]);
  useEffect(() => {
    load();
    window.addEventListener("focus", load);
    return () => window.removeEventListener("focus", load);
  }, [load]);
  const byNode = useMemo(() => nodeRuns(run), [run]);
  return { run, byNode, reload: load };
}
