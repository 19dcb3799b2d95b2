// The canvas for one workflow: palette, graph, configuration panel, validation, save, publish, run.
// The canvas is a projection of the workflow's draft graph (React Flow's own JSON), saved as drawn.
import {
  addEdge, Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState, useReactFlow,
  type Connection, type Edge, type Node,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, type CatalogEntry, type Problem } from "./api/client";
import { layout } from "./layout";
import { Panel } from "./Panel";
import { Versions } from "./Versions";
import { StepNode, type StepData } from "./nodes/StepNode";

type Graph = { nodes: { id: string; type: string; position: { x: number; y: number }; data: Record<string, unknown> }[];
               edges: { id: string; source: string; target: string; sourceHandle?: string | null }[] };
const nodeTypes = { step: StepNode };
const GROUPS = ["triggers", "steps", "control", "durable", "end"];

function toCanvas(graph: Graph, catalog: Record<string, CatalogEntry>): { nodes: Node<StepData>[]; edges: Edge[] } {
  return {
    nodes: graph.nodes.map((n) => ({ id: n.id, type: "step", position: n.position, data: { config: n.data, spec: catalog[n.type] },
                                     ariaLabel: n.id, className: `kind-${n.type}` })),
    edges: graph.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? null })),
  };
}

function toGraph(nodes: Node<StepData>[], edges: Edge[]): Graph {
  return {
    nodes: nodes.map((n) => ({ id: n.id, type: n.data.spec?.type ?? "unknown", position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
                               data: n.data.config })),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target, ...(e.sourceHandle ? { sourceHandle: e.sourceHandle } : {}) })),
  };
}

function Canvas({ workflowId, catalog }: { workflowId: number; catalog: Record<string, CatalogEntry> }) {
  const [nodes, setNodes, onNodesChange] = useNodesState<Node<StepData>>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [name, setName] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [status, setStatus] = useState("");
  const [dirty, setDirty] = useState(false);
  const [params, setParams] = useState(() => localStorage.getItem(`params:${workflowId}`) ?? "{}");
  const [filter, setFilter] = useState("");
  const [showVersions, setShowVersions] = useState(false);
  const [hookUrl, setHookUrl] = useState("");
  const flow = useReactFlow();

  // Undo/redo: a snapshot of the graph is taken before each change the user makes (typing in
  // the panel coalesces into one snapshot a second).
  const current = useRef({ nodes, edges });
  current.current = { nodes, edges };
  const history = useRef<{ past: string[]; future: string[]; at: number }>({ past: [], future: [], at: 0 });
  const checkpoint = useCallback((coalesce = false) => {
    const h = history.current;
    if (coalesce && Date.now() - h.at < 1000) return;
    h.past.push(JSON.stringify(toGraph(current.current.nodes, current.current.edges)));
    if (h.past.length > 200) h.past.shift();
    h.future = [];
    h.at = Date.now();
  }, []);
  const restore = useCallback((snap: string) => {
    const c = toCanvas(JSON.parse(snap) as Graph, catalog);
    setNodes(c.nodes);
    setEdges(c.edges);
    setDirty(true);
  }, [catalog, setEdges, setNodes]);
  const undo = useCallback(() => {
    const h = history.current;
    const previous = h.past.pop();
    if (previous === undefined) return;
    h.future.push(JSON.stringify(toGraph(current.current.nodes, current.current.edges)));
    restore(previous);
  }, [restore]);
  const redo = useCallback(() => {
    const h = history.current;
    const next = h.future.pop();
    if (next === undefined) return;
    h.past.push(JSON.stringify(toGraph(current.current.nodes, current.current.edges)));
    restore(next);
  }, [restore]);


  useEffect(() => {
    api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } }).then(({ data }) => {
      if (!data) return;
      setName(data.name);
      api.GET("/api/v1/me").then(({ data: me }) => { if (me) setHookUrl(`${location.origin}/hooks/${me.tenant}/${data.slug}`); });
      const graph = (data.draft as Graph | null) ?? { nodes: [{ id: "start", type: "manual", position: { x: 0, y: 0 }, data: {} }], edges: [] };
      const c = toCanvas(graph, catalog);
      setNodes(c.nodes);
      setEdges(c.edges);
    });
  }, [workflowId, catalog, setNodes, setEdges]);

  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirty) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  const addNode = useCallback((type: string, position?: { x: number; y: number }) => {
    const spec = catalog[type];
    let n = 1;
    const taken = new Set(nodes.map((x) => x.id));
    while (taken.has(`${type}_${n}`)) n++;
    const id = `${type}_${n}`;
    checkpoint();
    // Without a drop point, place it right of the view's centre, stepping down so nodes do not pile up.
    const box = document.querySelector(".canvas")?.getBoundingClientRect();
    const centre = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 }) : { x: 0, y: 0 };
    const at = position ?? { x: centre.x + 200, y: centre.y + (nodes.length % 5) * 70 };
    setNodes((ns) => [...ns.map((x) => ({ ...x, selected: false })),
                      { id, type: "step", position: at, data: { config: {}, spec }, ariaLabel: id, selected: true }]);
    setSelected(id);
    setDirty(true);
  }, [catalog, checkpoint, flow, nodes, setNodes]);

  const isValidConnection = useCallback((c: Connection | Edge) => {
    const target = nodes.find((n) => n.id === c.target);
    return c.source !== c.target && !target?.data.spec?.trigger;
  }, [nodes]);

  const onConnect = useCallback((c: Connection) => {
    checkpoint();
    setEdges((es) => addEdge({ ...c, id: `e_${c.source}_${c.sourceHandle ?? "out"}_${c.target}` }, es));
    setDirty(true);
  }, [checkpoint, setEdges]);

  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);

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
      let k = 1;
      while (taken.has(`${n.type}_${k}`)) k++;
      rename[n.id] = `${n.type}_${k}`;
      taken.add(rename[n.id]);
    }
    const pasted = toCanvas({
      nodes: g.nodes.map((n) => ({ ...n, id: rename[n.id], position: { x: n.position.x + 40, y: n.position.y + 40 } })),
      edges: g.edges.map((e) => ({ ...e, id: `e_${rename[e.source]}_${e.sourceHandle ?? "out"}_${rename[e.target]}`, source: rename[e.source], target: rename[e.target] })),
    }, catalog);
    checkpoint();
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), ...pasted.nodes.map((n) => ({ ...n, selected: true }))]);
    setEdges((es) => [...es, ...pasted.edges]);
    setDirty(true);
  }, [catalog, checkpoint, nodes, setEdges, setNodes]);

  const save = useCallback(async () => {
    const { error } = await api.PATCH("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } }, body: { draft: graph } });
    setStatus(error ? `Save failed: ${errorMessage(error)}` : "Saved");
    if (!error) setDirty(false);
  }, [graph, workflowId]);

  const markProblems = useCallback((found: Problem[]) => {
    setProblems(found);
    setNodes((ns) => ns.map((n) => ({ ...n, data: { ...n.data, problems: found.filter((p) => p.node_id === n.id).map((p) => p.message) } })));
  }, [setNodes]);

  const validate = useCallback(async () => {
    const { data } = await api.POST("/api/v1/validate", { body: { graph } });
    markProblems((data as Problem[]) ?? []);
    setStatus(data && data.length ? `${data.length} problem(s)` : "No problems");
  }, [graph, markProblems]);

  const publish = useCallback(async () => {
    await save();
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/versions", {
      params: { path: { workflow_id: workflowId } }, body: { graph, publish: true } });
    if (error) {
      markProblems((error as { error?: { problems?: Problem[] } }).error?.problems ?? []);
      setStatus(`Not published: ${errorMessage(error)}`);
    } else {
      markProblems([]);
      setStatus(`Published version ${data?.number}`);
    }
  }, [graph, markProblems, save, workflowId]);

  const run = useCallback(async () => {
    let payload: unknown;
    try { payload = JSON.parse(params || "null"); } catch { setStatus("The test payload is not JSON"); return; }
    localStorage.setItem(`params:${workflowId}`, params);
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/instances", {
      params: { path: { workflow_id: workflowId } }, body: { params: payload } });
    setStatus(error ? `Run failed: ${errorMessage(error)}` : `Started instance ${data?.id}`);
  }, [params, workflowId]);

  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey)) return;
      const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement;
      const key = e.key.toLowerCase();
      if (key === "s") { e.preventDefault(); save(); }
      else if (typing) return;
      else if (key === "z" && e.shiftKey) { e.preventDefault(); redo(); }
      else if (key === "z") { e.preventDefault(); undo(); }
      else if (key === "y") { e.preventDefault(); redo(); }
      else if (key === "c") copy();
      else if (key === "v") paste();
    };
    window.addEventListener("keydown", keys);
    return () => window.removeEventListener("keydown", keys);
  }, [copy, paste, redo, save, undo]);

  const autoLayout = useCallback(() => {
    checkpoint();
    setNodes((ns) => layout(ns, edges));
    setDirty(true);
    window.requestAnimationFrame(() => flow.fitView({ maxZoom: 1 }));
  }, [checkpoint, edges, flow, setNodes]);

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

  const selectedNode = nodes.find((n) => n.id === selected);
  const entries = Object.values(catalog).filter((c) => !filter || `${c.label} ${c.type}`.toLowerCase().includes(filter.toLowerCase()));

  return (
    <div className="editor">
      <header className="toolbar">
        <a href="/editor/">← Workflows</a>
        <h1>{name}{dirty ? " •" : ""}</h1>
        <button onClick={save}>Save</button>
        <button onClick={validate}>Validate</button>
        <button onClick={publish}>Publish</button>
        <label className="params">Test payload <input aria-label="Test payload" value={params} onChange={(e) => setParams(e.target.value)} /></label>
        <button onClick={run}>Run</button>
        <button onClick={undo} aria-label="Undo" title="Undo (Ctrl/Cmd+Z)">↶</button>
        <button onClick={redo} aria-label="Redo" title="Redo (Ctrl/Cmd+Shift+Z)">↷</button>
        <button onClick={autoLayout}>Auto-layout</button>
        <button onClick={exportGraph}>Export</button>
        <label className="import">Import <input type="file" accept="application/json" aria-label="Import graph"
                                                onChange={(e) => { const f = e.target.files?.[0]; if (f) importGraph(f); e.target.value = ""; }} /></label>
        <button onClick={() => setShowVersions((v) => !v)} aria-pressed={showVersions}>Versions</button>
        <span role="status" className="status">{status}</span>
      </header>
      <nav className="palette" aria-label="Node types">
        <input type="search" placeholder="Search nodes" aria-label="Search nodes" value={filter} onChange={(e) => setFilter(e.target.value)} />
        {GROUPS.map((g) => (
          <section key={g}>
            <h3>{g}</h3>
            {entries.filter((c) => c.group === g).map((c) => (
              <button key={c.type} className="palette-item" draggable title={c.description}
                      onDragStart={(e) => e.dataTransfer.setData("application/x-node-type", c.type)}
                      onClick={() => addNode(c.type)}>{c.label}</button>
            ))}
          </section>
        ))}
      </nav>
      <main className="canvas" onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => { const t = e.dataTransfer.getData("application/x-node-type"); if (t) addNode(t, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY })); }}>
        <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={(c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onNodesChange(c); if (c.some((x) => x.type !== "select" && x.type !== "dimensions")) setDirty(true); }}
                   onEdgesChange={(c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onEdgesChange(c); if (c.some((x) => x.type !== "select")) setDirty(true); }}
                   onNodeDragStart={() => checkpoint()} onConnect={onConnect} isValidConnection={isValidConnection}
                   onSelectionChange={({ nodes: s }) => setSelected(s[0]?.id ?? null)} deleteKeyCode={["Delete", "Backspace"]} fitView fitViewOptions={{ maxZoom: 1 }}>
          <Background />
          <MiniMap pannable zoomable />
          <Controls />
        </ReactFlow>
      </main>
      {showVersions && <Versions workflowId={workflowId} onClose={() => setShowVersions(false)} />}
      {!showVersions && selectedNode?.data.spec?.type === "webhook" && hookUrl && (
        <section className="hook-help" aria-label="How to call this webhook">
          <h3>Webhook URL</h3>
          <code>{hookUrl}</code>
          <pre>{`curl -X POST ${hookUrl} \\\n  -H 'content-type: application/json' \\\n  -H 'idempotency-key: order-42' \\\n  -d '{"id": 42}'`}</pre>
          <p className="muted">Auth: {String(selectedNode.data.config.auth ?? "standard_webhooks")}; signed schemes read the secret named {String(selectedNode.data.config.secret_name ?? "WEBHOOK_SECRET")}.</p>
        </section>
      )}
      {!showVersions && selectedNode?.data.spec && (
        <Panel id={selectedNode.id} spec={selectedNode.data.spec} config={selectedNode.data.config}
               onChange={(config) => { checkpoint(true); setNodes((ns) => ns.map((n) => (n.id === selectedNode.id ? { ...n, data: { ...n.data, config } } : n))); setDirty(true); }} />
      )}
      {problems.length > 0 && (
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
