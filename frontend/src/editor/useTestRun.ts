// Testing one node at a time: the draft's pinned test data (pin, unpin) and partial runs (test this
// node, run up to here; partialRun.ts says what each sends). A partial run is an instance of the
// saved draft made by the server (engine/seeding.py); the editor waits for it to finish, then
// re-reads the last run, so the node's panel shows its output and the edges their item counts.
import { useCallback, useEffect, useState } from "react";
import { api, errorMessage, type Problem } from "../api/client";
import type { PartialRun } from "./partialRun";

const FINISHED = new Set(["complete", "errored", "terminated"]);
const POLL_MS = 300;
const WAIT_MS = 60_000;  // a test that sleeps or waits for an event longer is left to the live view

type Args = {
  workflowId: number; initialPins: Record<string, unknown> | null;
  saveDraft: () => Promise<string | null>; reload: () => Promise<void>;
  setStatus: (s: string) => void; onProblems: (found: Problem[]) => void;
};

export function useTestRun({ workflowId, initialPins, saveDraft, reload, setStatus, onProblems }: Args) {
  const [pins, setPins] = useState<Record<string, unknown>>({});
  const [busy, setBusy] = useState<string | null>(null);  // the node being tested
  useEffect(() => { if (initialPins) setPins(initialPins); }, [initialPins]);

  const pin = useCallback(async (node: string, output: unknown) => {
    // The node must be in the saved draft for the server to accept its pin.
    const failed = await saveDraft();
    if (failed) { setStatus(`Not pinned: ${failed}`); return; }
    const { data, error } = await api.PUT("/api/v1/workflows/{workflow_id}/pins/{node_id}", {
      params: { path: { workflow_id: workflowId, node_id: node } }, body: { output } });
    if (error || !data) { setStatus(`Not pinned: ${errorMessage(error)}`); return; }
    setPins(data.pins);
    setStatus(`Pinned test data of ${node}: test runs use it instead of running ${node}`);
  }, [saveDraft, setStatus, workflowId]);

  const unpin = useCallback(async (node: string) => {
    const { data, error } = await api.DELETE("/api/v1/workflows/{workflow_id}/pins/{node_id}", {
      params: { path: { workflow_id: workflowId, node_id: node } } });
    if (error || !data) { setStatus(`Not unpinned: ${errorMessage(error)}`); return; }
    setPins(data.pins);
    setStatus(`Unpinned ${node}: test runs run it again`);
  }, [setStatus, workflowId]);

  const start = useCallback(async (run: PartialRun, params: unknown, what: string) => {
    if (busy) return;
    setBusy(run.stop_after);
    try {
      const failed = await saveDraft();
      if (failed) { setStatus(`${what} failed: ${failed}`); return; }
      setStatus(`${what}…`);
      const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/draft/instances", {
        params: { path: { workflow_id: workflowId } }, body: { params, seeds: run.seeds, stop_after: run.stop_after } });
      if (error || !data) {
        onProblems((error as { error?: { problems?: Problem[] } } | undefined)?.error?.problems ?? []);
        setStatus(`${what} failed: ${errorMessage(error)}`);
        return;
      }
      onProblems([]);
      const until = Date.now() + WAIT_MS;
      let status = "queued";
      while (!FINISHED.has(status) && Date.now() < until) {
        await new Promise((r) => window.setTimeout(r, POLL_MS));
        const { data: s } = await api.GET("/api/v1/instances/{instance_id}", { params: { path: { instance_id: data.id } } });
        status = String((s as { status?: string } | undefined)?.status ?? status);
      }
      await reload();
      setStatus(FINISHED.has(status) ? `${what}: ${status}` : `${what}: still ${status} (see its live view from the node's last run)`);
    } finally {
      setBusy(null);
    }
  }, [busy, onProblems, reload, saveDraft, setStatus, workflowId]);

  return { pins, pin, unpin, start, busy };
}
