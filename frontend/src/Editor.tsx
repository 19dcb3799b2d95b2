// The canvas for one workflow: palette, graph, configuration panel, validation, save, publish, run,
// versions (read-only view and diff). The canvas is a projection of the workflow's draft graph
// (React Flow's own JSON, see graph.ts), saved as drawn.
import {
  addEdge, applyNodeChanges, Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState,
  useReactFlow, type Connection, type Edge, type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, type CatalogEntry, type Problem } from "./api/client";
import {
  canvasType, connectionProblem, edgeId, freshId, semanticKey, toCanvas, toGraph, upstream, type CanvasNode, type Catalog, type Graph,
} from "./graph";
import { newestOnly, oneAtATime } from "./exclusive";
import { createHistory } from "./history";
import { CodeEditor } from "./code/CodeEditor";
import { FIT_MIN_ZOOM, FIT_PADDING, fitTargets, layout } from "./layout";
import { checkPayload, loadPayload, savePayload } from "./payload";
import { confirmLeave, navigate, setLeaveGuard } from "./router";
import { nodeTypes } from "./nodes";
import { Panel } from "./Panel";
import { Versions, type CanvasView } from "./Versions";
import { WebhookHelp } from "./WebhookHelp";

const GROUPS = ["triggers", "steps", "control", "durable", "end"];
const GROUP_COLOURS: Record<string, string> = { triggers: "#2e7d32", steps: "#2f6fed", control: "#8e24aa", durable: "#ef6c00", end: "#546e7a" };

/** A new node's config: the schema's defaults for its required fields (a code node starts as `return input;`). */
function defaults(spec: CatalogEntry | undefined): Record<string, unknown> {
  const props = spec?.schema.properties ?? {};
  return Object.fromEntries((spec?.schema.required ?? []).filter((k) => props[k]?.default !== undefined).map((k) => [k, props[k].default]));
}

function Canvas({ workflowId, catalog }: { workflowId: number; catalog: Catalog }) {
  const [nodes, setNodes, onNodesChange] = useNodesState<CanvasNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [name, setName] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState("");
  const [dirty, setDirty] = useState(false);
  const [params, setParams] = useState(() => loadPayload(workflowId));
  const [showPayload, setShowPayload] = useState(false);
  const payload = useMemo(() => checkPayload(params), [params]);
  // Opening the payload editor moves focus into it; closing it returns focus to its toolbar button.
  const payloadButton = useRef<HTMLButtonElement>(null);
  const closePayload = useCallback(() => { setShowPayload(false); payloadButton.current?.focus(); }, []);
  useEffect(() => {
    if (showPayload) document.querySelector<HTMLElement>("#payload-editor .cm-content")?.focus();
  }, [showPayload]);
  const [filter, setFilter] = useState("");
  const [showVersions, setShowVersions] = useState(false);
  const [view, setView] = useState<CanvasView | null>(null);  // an old version or a diff, read-only
  const [hookUrl, setHookUrl] = useState("");
  // The canvas mounts once the draft is loaded, and fits the view only if the draft had nodes: a
  // fit on the first node dropped onto an empty canvas would move everything under the user's hand.
  const [loaded, setLoaded] = useState<{ fit: boolean } | null>(null);
  // The published version and what its graph means: webhooks, schedules and the API start that
  // version, so the toolbar says when the draft differs from it.
  const [live, setLive] = useState<{ number: number; key: string } | null>(null);
  const [versionsChanged, setVersionsChanged] = useState(0);  // re-reads an open version list
  const flow = useReactFlow();

  // Undo/redo: a snapshot of the graph is taken before each change the user makes (typing in
  // the panel coalesces into one snapshot a second). See history.ts.
  const current = useRef({ nodes, edges });
  current.current = { nodes, edges };
  const history = useRef(createHistory<Graph>());
  const checkpoint = useCallback((coalesce = false) => {
    history.current.checkpoint(toGraph(current.current.nodes, current.current.edges), { coalesce });
  }, []);
  const restore = useCallback((g: Graph | undefined) => {
    if (!g) return;
    const c = toCanvas(g, catalog);
    setNodes(c.nodes);
    setEdges(c.edges);
    setDirty(true);
  }, [catalog, setEdges, setNodes]);
  const undo = useCallback(() => restore(history.current.undo(toGraph(current.current.nodes, current.current.edges))), [restore]);
  const redo = useCallback(() => restore(history.current.redo(toGraph(current.current.nodes, current.current.edges))), [restore]);

  useEffect(() => {
    api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } }).then(({ data }) => {
      if (!data) return;
      setName(data.name);
      api.GET("/api/v1/me").then(({ data: me }) => { if (me) setHookUrl(`${location.origin}/hooks/${me.tenant}/${data.slug}`); });
      // A new workflow starts empty: the canvas explains how to begin.
      const graph = (data.draft as Graph | null) ?? { nodes: [], edges: [] };
      const c = toCanvas(graph, catalog);
      setNodes(c.nodes);
      setEdges(c.edges);
      pendingFit.current = c.nodes.length > 0;
      setLoaded({ fit: c.nodes.length > 0 });
      const number = data.published_version;
      if (number) {
        api.GET("/api/v1/workflows/{workflow_id}/versions/{number}", { params: { path: { workflow_id: workflowId, number } } })
          .then(({ data: v }) => { if (v) setLive({ number, key: v.graph ? semanticKey(v.graph as Graph) : "" }); });
      }
    });
  }, [workflowId, catalog, setNodes, setEdges]);

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirty) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  // The browser's Back/Forward and in-app links ask through the router (router.ts).
  const dirtyNow = useRef(dirty);
  dirtyNow.current = dirty;
  useEffect(() => setLeaveGuard(() => dirtyNow.current), []);

  // Fit the whole graph when it stays readable, else its first nodes from the trigger (layout.ts).
  // The canvas' minZoom is lower than FIT_MIN_ZOOM so the Fit view control can show everything.
  const fit = useCallback(() => {
    const box = document.querySelector(".canvas .react-flow")?.getBoundingClientRect();
    const ns = flow.getNodes();
    if (!box || !ns.length) return;
    const boxes = ns.map((n) => ({ id: n.id, x: n.position.x, y: n.position.y, width: n.measured?.width ?? 180, height: n.measured?.height ?? 70 }));
    const ids = fitTargets(boxes, flow.getEdges(), box.width, box.height);
    flow.fitView({ nodes: ids.map((id) => ({ id })), maxZoom: 1, minZoom: FIT_MIN_ZOOM, padding: `${FIT_PADDING}px` });
  }, [flow]);
  // When a draft, a version or a diff is opened: once React Flow has measured every node shown (a
  // fixed delay was sometimes too short, and the fit then cut off the nodes measured late). The
  // measures arrive as "dimensions" changes applied to the shown nodes, so they are read there.
  const pendingFit = useRef(false);

  const addNode = useCallback((type: string, position?: { x: number; y: number }) => {
    const id = freshId(type, new Set(nodes.map((x) => x.id)));
    checkpoint();
    // Without a drop point, place it right of the view's centre, stepping down so nodes do not pile up.
    const box = document.querySelector(".canvas")?.getBoundingClientRect();
    const centre = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 }) : { x: 0, y: 0 };
    const at = position ?? { x: centre.x + 60, y: centre.y + (nodes.length % 5) * 70 };
    setNodes((ns) => [...ns.map((x) => ({ ...x, selected: false })),
                      { id, type: canvasType(type, catalog), position: at, data: { type, config: defaults(catalog[type]), spec: catalog[type] }, ariaLabel: id, selected: true }]);
    setSelected(id);
    setDirty(true);
  }, [catalog, checkpoint, flow, nodes, setNodes]);

  // Refused while dragging, so an invalid edge is never drawn (graph.ts says which and why).
  const isValidConnection = useCallback((c: Connection | Edge) => connectionProblem(c, nodes, edges) === null, [edges, nodes]);

  const onConnect = useCallback((c: Connection) => {
    checkpoint();
    setEdges((es) => addEdge({ ...c, id: edgeId(c.source, c.sourceHandle, c.target) }, es));
    setDirty(true);
  }, [checkpoint, setEdges]);

  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
  const draftKey = useMemo(() => semanticKey(graph), [graph]);

  // Copy/paste of the selected nodes and the edges between them, with fresh ids.
  const clipboard = useRef<Graph | null>(null);
  const copy = useCallback(() => {
    const chosen = new Set(nodes.filter((n) => n.selected).map((n) => n.id));
    if (!chosen.size) return;
    const g = toGraph(nodes.filter((n) => chosen.has(n.id)), edges.filter((e) => chosen.has(e.source) && chosen.has(e.target)));
    clipboard.current = g;
    setStatus(`Copied ${g.nodes.length} node(s)`);
  }, [edges, nodes]);
  const paste = useCallback(() => {
    const g = clipboard.current;
    if (!g) return;
    const taken = new Set(nodes.map((n) => n.id));
    const rename: Record<string, string> = {};
    for (const n of g.nodes) {
      rename[n.id] = freshId(n.type, taken);
      taken.add(rename[n.id]);
    }
    const pasted = toCanvas({
      nodes: g.nodes.map((n) => ({ ...n, id: rename[n.id], position: { x: n.position.x + 40, y: n.position.y + 40 } })),
      edges: g.edges.map((e) => ({ ...e, id: edgeId(rename[e.source], e.sourceHandle, rename[e.target]), source: rename[e.source], target: rename[e.target] })),
    }, catalog);
    checkpoint();
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), ...pasted.nodes.map((n) => ({ ...n, selected: true }))]);
    setEdges((es) => [...es, ...pasted.edges]);
    setDirty(true);
  }, [catalog, checkpoint, nodes, setEdges, setNodes]);

  // A saved draft is clean only if nothing was edited while its request was in flight: an edit made
  // meanwhile is not in what the server has, and must still be marked (and asked about on leaving).
  const savedUnlessEditedSince = useCallback((sent: Graph) => {
    const now = current.current;
    if (JSON.stringify(toGraph(now.nodes, now.edges)) === JSON.stringify(sent)) setDirty(false);
  }, []);

  const markProblems = useCallback((found: Problem[]) => {
    setProblems(found);
    setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, problems: found.filter((p) => p.node_id === n.id).map((p) => p.message) } })));
  }, [setNodes]);

  // Save keeps the draft and, when it compiles, makes it a version (the newest one again when
  // nothing changed); a draft with problems stays saved and shows them. Returns the version number.
  const save = useCallback(async (): Promise<number | null> => {
    const { error } = await api.PATCH("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } }, body: { draft: graph } });
    if (error) { setStatus(`Save failed: ${errorMessage(error)}`); return null; }
    savedUnlessEditedSince(graph);
    const made = await api.POST("/api/v1/workflows/{workflow_id}/draft/version", { params: { path: { workflow_id: workflowId } } });
    const failure = (made as { error?: unknown }).error;  // 422 with the problems (not in the schema's answers)
    if (failure || !made.data) {
      const found = (failure as { error?: { problems?: Problem[] } } | undefined)?.error?.problems ?? [];
      markProblems(found);
      setStatus(found.length ? `Saved as a draft: ${found.length} problem(s) keep it from becoming a version` : `Saved as a draft: ${errorMessage(failure)}`);
      return null;
    }
    setStatus(`Saved as version ${made.data.number}`);
    setVersionsChanged((n) => n + 1);
    return made.data.number;
  }, [graph, markProblems, savedUnlessEditedSince, workflowId]);

  // Only the newest validation's answer marks the nodes: an older one (for a graph edited since)
  // arriving last would put back problems already fixed, and stop the revalidation below.
  const validation = useRef(newestOnly()).current;
  const validate = useCallback(async () => {
    const newest = validation();
    const { data } = await api.POST("/api/v1/validate", { body: { graph } });
    if (!newest()) return;
    markProblems((data as Problem[]) ?? []);
    setStatus(data && data.length ? `${data.length} problem(s)` : "No problems");
    setRevalidate(true);
  }, [graph, markProblems]);

  // Once problems are shown, they follow the edits (a second after the last one) until none is
  // left, so fixing one clears its mark without another click. Keyed on the graph's meaning, so
  // the marks themselves (view state) do not trigger another round.
  const [revalidate, setRevalidate] = useState(false);
  const latestGraph = useRef(graph);
  latestGraph.current = graph;
  useEffect(() => {
    if (!revalidate || view) return;
    const timer = window.setTimeout(async () => {
      const newest = validation();
      const { data } = await api.POST("/api/v1/validate", { body: { graph: latestGraph.current } });
      if (!newest()) return;
      const found = (data as Problem[]) ?? [];
      markProblems(found);
      setStatus(found.length ? `${found.length} problem(s)` : "No problems");
      if (!found.length) setRevalidate(false);
    }, 1000);
    return () => window.clearTimeout(timer);
  }, [draftKey, markProblems, revalidate, view]);

  const publish = useCallback(async () => {
    const number = await save();
    if (number === null) return;  // save said why
    const { error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/publish", {
      params: { path: { workflow_id: workflowId, number } } });
    if (error) {
      setStatus(`Not published: ${errorMessage(error)}`);
    } else {
      markProblems([]);
      setStatus(`Published version ${number}`);
      setLive({ number, key: semanticKey(graph) });
      setVersionsChanged((n) => n + 1);
    }
  }, [graph, markProblems, save, workflowId]);

  // Run starts an instance of the draft as drawn (saved first, compiled into an unpublished version
  // by the server); webhooks, schedules and the API keep starting the published version.
  const run = useCallback(async () => {
    if (!payload.ok) { setStatus("The test payload is not JSON"); return; }
    const saved = await api.PATCH("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } }, body: { draft: graph } });
    const saveError = (saved as { error?: unknown }).error;
    if (saveError) { setStatus(`Run failed: ${errorMessage(saveError)}`); return; }
    savedUnlessEditedSince(graph);
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/draft/instances", {
      params: { path: { workflow_id: workflowId } }, body: { params: payload.value } });
    if (error) {
      markProblems((error as { error?: { problems?: Problem[] } }).error?.problems ?? []);
      setStatus(`Run failed: ${errorMessage(error)}`);
      return;
    }
    setStatus(`Started instance ${data.id} (draft as v${data.version})`);
    // Watch it in the live view (the draft was saved just above; an edit made since asks first).
    if (confirmLeave()) navigate(`/editor/w/${workflowId}/i/${data.id}`);
  }, [graph, markProblems, payload, savedUnlessEditedSince, workflowId]);

  // Save, Publish and Run (and Ctrl+S) share one guard: a double click must not start two instances.
  const exclusive = useMemo(() => oneAtATime(), []);
  const saveOnce = useMemo(() => exclusive(save), [exclusive, save]);
  const publishOnce = useMemo(() => exclusive(publish), [exclusive, publish]);
  const runOnce = useMemo(() => exclusive(run), [exclusive, run]);

  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
        || Boolean(target?.closest?.(".cm-editor"));  // CodeMirror has its own undo and clipboard
      // Delete is handled here rather than by React Flow's deleteKeyCode, which ignored a Delete
      // pressed right after Ctrl+V in about half of the browser test runs (its key tracker matches
      // only when exactly one key is recorded as held); reading the selection here is deterministic.
      if ((e.key === "Delete" || e.key === "Backspace") && !e.ctrlKey && !e.metaKey && !e.altKey && !typing && !view
          && !(target?.closest?.("button, a, [role=dialog]"))) {
        const { nodes: ns, edges: es } = current.current;
        const doomed = { nodes: ns.filter((n) => n.selected), edges: es.filter((x) => x.selected) };
        if (doomed.nodes.length || doomed.edges.length) { e.preventDefault(); flow.deleteElements(doomed); }
        return;
      }
      if (!(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === "s") { e.preventDefault(); saveOnce(); }
      else if (typing || view) return;
      else if (key === "z" && e.shiftKey) { e.preventDefault(); redo(); }
      else if (key === "z") { e.preventDefault(); undo(); }
      else if (key === "y") { e.preventDefault(); redo(); }
      else if (key === "c") copy();
      else if (key === "v") paste();
    };
    window.addEventListener("keydown", keys);
    return () => window.removeEventListener("keydown", keys);
  }, [copy, flow, paste, redo, saveOnce, undo, view]);

  const autoLayout = useCallback(() => {
    checkpoint();
    setNodes((ns) => layout(ns, edges));
    setDirty(true);
    window.requestAnimationFrame(() => fit());
  }, [checkpoint, edges, fit, setNodes]);

  const exportGraph = useCallback(() => {
    const blob = new Blob([JSON.stringify(graph, null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${name || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  }, [graph, name]);

  const importGraph = useCallback(async (file: File) => {
    try {
      const parsed = JSON.parse(await file.text()) as Graph;
      if (!Array.isArray(parsed.nodes) || !Array.isArray(parsed.edges)) throw new Error("not a graph");
      const c = toCanvas(parsed, catalog);
      checkpoint();
      setNodes(c.nodes);
      setEdges(c.edges);
      setDirty(true);
      setStatus(`Imported ${parsed.nodes.length} nodes`);
    } catch {
      setStatus("That file is not a workflow graph (JSON with nodes and edges)");
    }
  }, [catalog, checkpoint, setEdges, setNodes]);

  // An old version or a diff replaces the draft on the canvas until "Back to draft"; the draft
  // itself is untouched meanwhile (and can be replaced by the version, as one undoable change).
  const openView = useCallback((v: CanvasView | null) => {
    setView(v);
    setSelected(null);
    pendingFit.current = true;
  }, []);
  const copyViewIntoDraft = useCallback(() => {
    if (!view?.graph) return;
    checkpoint();
    restore(view.graph);
    setView(null);
    setStatus(`Draft replaced by ${view.title} (Undo takes it back)`);
  }, [checkpoint, restore, view]);
  const onViewNodesChange = useCallback((changes: NodeChange<CanvasNode>[]) => {
    setView((v) => (v ? { ...v, nodes: applyNodeChanges(changes.filter((c) => c.type === "select" || c.type === "dimensions"), v.nodes) } : v));
  }, []);

  const shown = view ? view.nodes : nodes;
  const measured = shown.length > 0 && shown.every((n) => n.measured?.width && n.measured?.height);
  useEffect(() => {
    if (!pendingFit.current || !measured) return;
    pendingFit.current = false;
    window.requestAnimationFrame(fit);
  }, [fit, measured, shown]);
  const selectedNode = shown.find((n) => n.id === selected);
  const selectedUpstream = useMemo(() => (selected ? upstream(selected, view ? view.edges : edges) : []), [edges, selected, view]);
  const entries = Object.values(catalog).filter((c) => !filter || `${c.label} ${c.type} ${c.description}`.toLowerCase().includes(filter.toLowerCase()));

  return (
    <div className="editor">
      <header className="toolbar">
        <a href="/editor/">← Workflows</a>
        <h1>{name}{dirty ? <span aria-label="unsaved changes" title="Unsaved changes"> •</span> : ""}</h1>
        <button onClick={() => saveOnce()} title="Save the draft as a version (Ctrl/Cmd+S)">Save</button>
        <button onClick={validate}>Validate</button>
        <button onClick={() => publishOnce()}>Publish</button>
        <button ref={payloadButton} onClick={() => setShowPayload((v) => !v)} aria-expanded={showPayload} aria-controls="payload-editor"
                className={payload.ok ? "" : "bad"} title="The JSON a test run starts with (remembered for this workflow)">Payload{payload.ok ? "" : " ⚠"}</button>
        <button onClick={() => runOnce()} disabled={!payload.ok} aria-describedby={payload.ok ? undefined : "run-blocked"}
                title={payload.ok ? "Save the draft and start an instance of it with the test payload" : "Fix the test payload first: it is not JSON"}>Run</button>
        {!payload.ok && <span id="run-blocked" className="badge-note bad">payload is not JSON</span>}
        {loaded && (live === null ? <span className="badge-note">not published</span>
          : live.key !== draftKey ? <span className="badge-note" title="Webhooks, schedules and the API start the published version: Publish makes the draft live">draft differs from v{live.number}</span>
          : <span className="badge-note ok">v{live.number} live</span>)}
        <button onClick={undo} aria-label="Undo" title="Undo (Ctrl/Cmd+Z)" disabled={Boolean(view)}>↶</button>
        <button onClick={redo} aria-label="Redo" title="Redo (Ctrl/Cmd+Shift+Z)" disabled={Boolean(view)}>↷</button>
        <button onClick={autoLayout} disabled={Boolean(view)}>Auto-layout</button>
        <button onClick={exportGraph}>Export</button>
        <label className="import button">Import<input type="file" accept="application/json" aria-label="Import graph" className="visually-hidden"
                                                      onChange={(e) => { const f = e.target.files?.[0]; if (f) importGraph(f); e.target.value = ""; }} /></label>
        <button onClick={() => setShowVersions((v) => !v)} aria-pressed={showVersions}>Versions</button>
        <a href={`/editor/w/${workflowId}/instances`} onClick={(e) => {
          e.preventDefault();
          // An in-app link unmounts the editor without the browser's beforeunload prompt: ask here.
          if (confirmLeave()) navigate(`/editor/w/${workflowId}/instances`);
        }}>Instances</a>
      </header>
      {showPayload && (
        <section id="payload-editor" className="payload-editor" role="dialog" aria-labelledby="payload-title"
                 onKeyDown={(e) => { if (e.key === "Escape") closePayload(); }}>
          <h2 id="payload-title">Payload for test runs</h2>
          <p className="muted">JSON given to the instance Run starts, as its params (<code>input</code> of the trigger). Kept for this workflow in this browser.</p>
          <CodeEditor kind="json" label="Test payload" value={params} onChange={(text) => { setParams(text); savePayload(workflowId, text); }} />
          <p className={payload.ok ? "payload-state ok" : "payload-state bad"} aria-live="polite">
            {payload.ok ? "✓ Valid JSON" : `Not JSON: ${payload.error}`}</p>
          <div className="payload-actions">
            <button onClick={() => runOnce()} disabled={!payload.ok} title={payload.ok ? "Save the draft and start an instance of it with this payload" : "Fix the payload first"}>Run with this payload</button>
            <button onClick={closePayload}>Close</button>
          </div>
        </section>
      )}
      <nav className="palette" aria-label="Node types">
        <input type="search" placeholder="Search nodes" aria-label="Search nodes" value={filter} onChange={(e) => setFilter(e.target.value)} />
        {entries.length === 0 && <p className="muted">No node type matches “{filter}”.</p>}
        {GROUPS.map((g) => (
          <section key={g} aria-label={g}>
            {entries.some((c) => c.group === g) && <h3>{g}</h3>}
            {entries.filter((c) => c.group === g).map((c) => (
              <button key={c.type} className={`palette-item group-${g}`} draggable title={c.description} disabled={Boolean(view)}
                      onDragStart={(e) => e.dataTransfer.setData("application/x-node-type", c.type)}
                      onClick={() => addNode(c.type)}>{c.label}</button>
            ))}
          </section>
        ))}
      </nav>
      <main className={`canvas${view ? " viewing" : ""}`} onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => { const t = e.dataTransfer.getData("application/x-node-type"); if (t && !view) addNode(t, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY })); }}>
        {view && (
          <div className="view-banner" role="region" aria-label="Read-only view">
            <strong>{view.title}</strong> <span className="muted">read-only</span>
            {view.legend && <span className="legend"><span className="diff-tag diff-tag-added">added {view.legend.added}</span>
              <span className="diff-tag diff-tag-changed">changed {view.legend.changed}</span>
              <span className="diff-tag diff-tag-removed">removed {view.legend.removed}</span></span>}
            {view.graph && <button onClick={copyViewIntoDraft}>Copy into draft</button>}
            <button onClick={() => openView(null)}>Back to draft</button>
          </div>
        )}
        {loaded && !view && nodes.length === 0 && <p className="empty muted">Drag a trigger from the palette to start, then add steps and connect them.</p>}
        <span role="status" className="status" aria-live="polite">{status}</span>
        {loaded && <ReactFlow nodes={shown} edges={view ? view.edges : edges} nodeTypes={nodeTypes}
                   onNodesChange={view ? onViewNodesChange : (c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onNodesChange(c); if (c.some((x) => x.type !== "select" && x.type !== "dimensions")) setDirty(true); }}
                   onEdgesChange={view ? undefined : (c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onEdgesChange(c); if (c.some((x) => x.type !== "select")) setDirty(true); }}
                   onNodeDragStart={() => checkpoint()} onConnect={onConnect} isValidConnection={isValidConnection}
                   onConnectEnd={(_, c) => {
                     // Say why a connection dropped on a handle was refused (the drag only turns red).
                     if (c.fromNode && c.toNode && c.isValid === false) {
                       const why = connectionProblem({ source: c.fromNode.id, sourceHandle: c.fromHandle?.id ?? null, target: c.toNode.id, targetHandle: null }, nodes, edges);
                       if (why) setStatus(`Not connected: ${why}`);
                     }
                   }}
                   nodesDraggable={!view} nodesConnectable={!view} edgesFocusable={!view}
                   onSelectionChange={({ nodes: s }) => setSelected(s[0]?.id ?? null)} deleteKeyCode={null}
                   minZoom={0.1} colorMode="system" aria-label="Workflow canvas">
          <Background />
          <MiniMap pannable zoomable ariaLabel="Minimap" nodeColor={(n) => GROUP_COLOURS[(n.data as CanvasNode["data"]).spec?.group ?? ""] ?? "#999"} />
          <Controls aria-label="Zoom controls" />
        </ReactFlow>}
      </main>
      {showVersions && <Versions workflowId={workflowId} catalog={catalog} onClose={() => setShowVersions(false)} onView={openView}
                                 changed={versionsChanged} onPublished={(number, g) => setLive({ number, key: g ? semanticKey(g) : "" })} />}
      {!showVersions && selectedNode?.data.spec && (
        <Panel id={selectedNode.id} spec={selectedNode.data.spec} config={selectedNode.data.config} upstream={selectedUpstream}
               problems={view ? [] : selectedNode.data.problems} readOnly={Boolean(view)}
               onChange={(config) => { checkpoint(true); setNodes((ns) => ns.map((n) => (n.id === selectedNode.id ? { ...n, data: { ...n.data, config } } : n))); setDirty(true); }}>
          {/* In the side column, so it never covers the canvas (or a node with a problem). */}
          {!view && selectedNode.data.type === "webhook" && hookUrl && <WebhookHelp baseUrl={hookUrl} config={selectedNode.data.config} />}
        </Panel>
      )}
      {!showVersions && !selectedNode && (
        // The side column is always there, so selecting a node never resizes the canvas.
        <aside className="panel hint" aria-label="Help">
          {view ? <p className="muted">Select a node to see its configuration in this version.</p>
            : !loaded ? <p className="muted">Loading…</p>
            : nodes.length === 0 ? <p className="muted">Start with a trigger: drag Manual start, Webhook or Schedule from the palette (or click it). Then add steps and drag from a node's right handle to the next node's left handle.</p>
            : <p className="muted">Select a node to configure it. Drag from a node's right handle to another node's left handle to connect them; Delete removes the selection; Ctrl/Cmd+C, V copy and paste; Ctrl/Cmd+Z undoes.</p>}
        </aside>
      )}
      {problems.length > 0 && !view && (
        <section className="problems" aria-label="Problems">
          <h2>Problems</h2>
          <ul>{problems.map((p, i) => (
            <li key={i}><button onClick={() => { if (p.node_id) { setSelected(p.node_id); setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === p.node_id }))); } }}>
              {p.node_id ?? "workflow"}: {p.message}</button></li>))}</ul>
        </section>
      )}
    </div>
  );
}

export function Editor({ workflowId }: { workflowId: number }) {
  const [catalog, setCatalog] = useState<Record<string, CatalogEntry> | null>(null);
  useEffect(() => {
    api.GET("/api/v1/catalog").then(({ data }) => {
      setCatalog(Object.fromEntries(((data ?? []) as unknown as CatalogEntry[]).map((c) => [c.type, c])));
    });
  }, []);
  if (!catalog) return <p className="muted">Loading…</p>;
  return <ReactFlowProvider><Canvas workflowId={workflowId} catalog={catalog} /></ReactFlowProvider>;
}
