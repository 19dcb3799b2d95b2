// The draft's life: load it, Save (the draft, then a version once it compiles), Publish, Run (an
// instance of the saved draft with the test payload). Save, Publish and Run take turns (inTurn):
// a second click of one pending is dropped, another one waits, so a Publish is never lost.
// Publish first runs the safe-deploy check (POST .../versions/{n}/check): when instances are in
// flight, PublishDialog shows what it found and publishing waits for the user's confirmation.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, type Problem, type VersionCheck } from "../api/client";
import { inTurn } from "../exclusive";
import { semanticKey, toCanvas, toGraph, type CanvasNode, type Catalog, type Graph } from "../graph";
import { confirmLeave, navigate, setLeaveGuard } from "../router";
import type { Edge } from "@xyflow/react";

type Args = {
  workflowId: number; catalog: Catalog; graph: Graph;
  current: { current: { nodes: CanvasNode[]; edges: Edge[] } };
  setNodes: (ns: CanvasNode[]) => void; setEdges: (es: Edge[]) => void;
  setStatus: (s: string) => void; onProblems: (found: Problem[]) => void;
};

export function useDraft({ workflowId, catalog, graph, current, setNodes, setEdges, setStatus, onProblems }: Args) {
  const [name, setName] = useState("");
  const [hookUrl, setHookUrl] = useState("");
  const [dirty, setDirty] = useState(false);
  // The canvas mounts once the draft is loaded; `fit` says whether the opened draft had nodes to fit.
  const [loaded, setLoaded] = useState<{ fit: boolean } | null>(null);
  // The published version and what its graph means: the toolbar says when the draft differs from it.
  const [live, setLive] = useState<{ number: number; key: string } | null>(null);
  const [versionsChanged, setVersionsChanged] = useState(0);  // re-reads an open version list
  const [pins, setPins] = useState<Record<string, unknown> | null>(null);  // the draft's pinned test data, as loaded
  // The check of the version about to be published, while the user decides (PublishDialog).
  const [pending, setPending] = useState<VersionCheck | null>(null);

  useEffect(() => {
    api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } }).then(({ data }) => {
      if (!data) return;
      setName(data.name);
      setPins((data.pins as Record<string, unknown> | undefined) ?? {});
      api.GET("/api/v1/me").then(({ data: me }) => { if (me) setHookUrl(`${location.origin}/hooks/${me.tenant}/${data.slug}`); });
      const c = toCanvas((data.draft as Graph | null) ?? { nodes: [], edges: [] }, catalog);
      setNodes(c.nodes);
      setEdges(c.edges);
      setLoaded({ fit: c.nodes.length > 0 });
      const number = data.published_version;
      if (number) {
        api.GET("/api/v1/workflows/{workflow_id}/versions/{number}", { params: { path: { workflow_id: workflowId, number } } })
          .then(({ data: v }) => { if (v) setLive({ number, key: v.graph ? semanticKey(v.graph as Graph) : "" }); });
      }
    });
  }, [workflowId, catalog, setNodes, setEdges]);

  // Leaving with unsaved work asks first: the browser's reload/close, and in-app navigation (router.ts).
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirty) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  const dirtyNow = useRef(dirty);
  dirtyNow.current = dirty;
  useEffect(() => setLeaveGuard(() => dirtyNow.current), []);

  // A saved draft is clean only if nothing was edited while its request was in flight.
  const savedUnlessEditedSince = useCallback((sent: Graph) => {
    const now = current.current;
    if (JSON.stringify(toGraph(now.nodes, now.edges)) === JSON.stringify(sent)) setDirty(false);
  }, [current]);

  const saveDraft = useCallback(async (g: Graph): Promise<string | null> => {
    const { error } = await api.PATCH("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } }, body: { draft: g } });
    if (error) return errorMessage(error);
    savedUnlessEditedSince(g);
    return null;
  }, [savedUnlessEditedSince, workflowId]);

  // Save keeps the draft and, when it compiles, makes it a version (the newest one again when
  // nothing changed). Either way the marks now say what the server found: none once it compiled.
  const save = useCallback(async (): Promise<number | null> => {
    const g = toGraph(current.current.nodes, current.current.edges);
    const failed = await saveDraft(g);
    if (failed) { setStatus(`Save failed: ${failed}`); return null; }
    const made = await api.POST("/api/v1/workflows/{workflow_id}/draft/version", { params: { path: { workflow_id: workflowId } } });
    const failure = (made as { error?: unknown }).error;  // 422 with the problems (not in the schema's answers)
    if (failure || !made.data) {
      const found = (failure as { error?: { problems?: Problem[] } } | undefined)?.error?.problems ?? [];
      onProblems(found);
      setStatus(found.length ? `Saved as a draft: ${found.length} problem(s) keep it from becoming a version` : `Saved as a draft: ${errorMessage(failure)}`);
      return null;
    }
    onProblems([]);
    setStatus(`Saved as version ${made.data.number}`);
    setVersionsChanged((n) => n + 1);
    return made.data.number;
  }, [current, onProblems, saveDraft, setStatus, workflowId]);

  const publishNow = useCallback(async (number: number) => {
    const key = semanticKey(toGraph(current.current.nodes, current.current.edges));
    const { error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/publish", {
      params: { path: { workflow_id: workflowId, number } } });
    if (error) { setStatus(`Not published: ${errorMessage(error)}`); return; }
    setStatus(`Published version ${number}`);
    setLive({ number, key });
    setVersionsChanged((n) => n + 1);
  }, [current, setStatus, workflowId]);

  const publish = useCallback(async () => {
    const number = await save();
    if (number === null) return;  // save said why
    setStatus(`Checking version ${number} against the instances in flight…`);
    const { data: check, error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/check", {
      params: { path: { workflow_id: workflowId, number } } });
    if (error || !check) { setStatus(`Not published: the check failed: ${errorMessage(error)}`); return; }
    if (check.checked === 0) { await publishNow(number); return; }  // nothing in flight: nothing to decide
    setStatus(check.summary);
    setPending(check);
  }, [publishNow, save, setStatus, workflowId]);

  const confirmPublish = useCallback(async () => {
    const check = pending;
    setPending(null);
    if (check) await publishNow(check.version);
  }, [pending, publishNow]);
  const cancelPublish = useCallback(() => { setPending(null); setStatus("Not published"); }, [setStatus]);

  // Run starts an instance of the draft as drawn (saved first, compiled into an unpublished version
  // by the server); webhooks, schedules and the API keep starting the published version.
  const run = useCallback(async (params: unknown, delivery?: Record<string, unknown>) => {
    const g = toGraph(current.current.nodes, current.current.edges);
    const failed = await saveDraft(g);
    if (failed) { setStatus(`Run failed: ${failed}`); return; }
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/draft/instances", {
      params: { path: { workflow_id: workflowId } }, body: { params, delivery: delivery ?? null } });
    if (error || !data) {
      onProblems((error as { error?: { problems?: Problem[] } } | undefined)?.error?.problems ?? []);
      setStatus(`Run failed: ${errorMessage(error)}`);
      return;
    }
    onProblems([]);
    setVersionsChanged((n) => n + 1);
    setStatus(`Started instance ${data.id} (draft as v${data.version})`);
    // Watch it in the live view (the draft was saved just above; an edit made since asks first).
    if (confirmLeave()) navigate(`/editor/w/${workflowId}/i/${data.id}`);
  }, [current, onProblems, saveDraft, setStatus, workflowId]);

  const turn = useMemo(() => inTurn(), []);
  const actions = useMemo(() => ({
    save: turn("save", save), publish: turn("publish", publish), run: turn("run", run),
    confirmPublish: turn("publish", confirmPublish),
  }), [confirmPublish, publish, run, save, turn]);

  const draftKey = useMemo(() => semanticKey(graph), [graph]);
  const saveDraftNow = useCallback(() => saveDraft(toGraph(current.current.nodes, current.current.edges)), [current, saveDraft]);
  return { name, hookUrl, dirty, setDirty, loaded, live, setLive, draftKey, versionsChanged, pins, saveDraft: saveDraftNow,
           pending, cancelPublish, ...actions };
}
