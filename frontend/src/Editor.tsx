// The canvas for one workflow. The canvas is a projection of the workflow's draft graph (React
// Flow's own JSON, see graph.ts), saved as drawn. This file composes the editor's concerns, each in
// its own module under editor/: the draft's life (useDraft: load, save, publish, run), problems
// (useProblems), test data (useTestData, PayloadDialog), clipboard, shortcuts, toolbar, palette,
// the node picker and insertion (insert.ts), and the tenant's secret names (useSecrets).
import {
  addEdge, applyNodeChanges, Background, Controls, MarkerType, MiniMap, ReactFlow, ReactFlowProvider, useEdgesState, useNodesState,
  useReactFlow, type Connection, type Edge, type NodeChange,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, type CatalogEntry } from "./api/client";
import {
  canvasType, connectionProblem, edgeId, freshId, outputHandles, semanticKey, toCanvas, toGraph, upstream, type CanvasNode, type Catalog, type Graph,
} from "./graph";
import { createHistory } from "./history";
import { FIT_PADDING, layout } from "./layout";
import { openReadable } from "./readableView";
import { nodeTypes } from "./nodes";
import { Panel } from "./Panel";
import { missingSecrets } from "./secrets";
import { Versions, type CanvasView } from "./Versions";
import { WebhookHelp } from "./WebhookHelp";
import { EditorContext, type Spot } from "./editor/context";
import { fieldChanges, shown as shownValue } from "./editor/fieldDiff";
import { insertAfter, insertOnEdge, type Point } from "./editor/insert";
import { InsertableEdge } from "./editor/InsertableEdge";
import { NodePicker } from "./editor/NodePicker";
import { GROUP_COLOURS, NODE_TYPE_MIME, Palette } from "./editor/Palette";
import { PayloadDialog } from "./editor/PayloadDialog";
import { PublishDialog } from "./editor/PublishDialog";
import { SettingsDialog } from "./editor/SettingsDialog";
import { Problems } from "./editor/Problems";
import { Toolbar } from "./editor/Toolbar";
import { useClipboard } from "./editor/useClipboard";
import { useDraft } from "./editor/useDraft";
import { useProblems } from "./editor/useProblems";
import { useSecretNames } from "./editor/useSecrets";
import { useShortcuts } from "./editor/useShortcuts";
import { useTestData } from "./editor/useTestData";
import { useTestDelivery } from "./editor/useTestDelivery";
import { itemCount, itemsLabel, sampleFor } from "./editor/lastRun";
import { SampleContext } from "./form/preview";
import { LastRun } from "./editor/LastRun";
import { placeFromQuery, requestReveal } from "./code/reveal";
import { useLastRun } from "./editor/useLastRun";
import { loopBodies, testable, testNodeRun, upToHereRun } from "./editor/partialRun";
import { TestNode } from "./editor/TestNode";
import { useTestRun } from "./editor/useTestRun";

const edgeTypes = { insertable: InsertableEdge };
const ARROW = { type: MarkerType.ArrowClosed, width: 18, height: 18 };

/** A new node's config: the schema's defaults for its required fields (a code node starts as `return input;`). */
function defaults(spec: CatalogEntry | undefined): Record<string, unknown> {
  const props = spec?.schema.properties ?? {};
  return Object.fromEntries((spec?.schema.required ?? []).filter((k) => props[k]?.default !== undefined).map((k) => [k, props[k].default]));
}

/** The edge whose drawn line is under a screen point (a palette item dropped there splits it), if any. */
function edgeAt(x: number, y: number): string | null {
  for (const el of document.elementsFromPoint(x, y)) {
    const id = el.closest(".react-flow__edge")?.getAttribute("data-testid")?.replace(/^rf__edge-/, "");
    if (id) return id;
  }
  return null;
}

function Canvas({ workflowId, catalog }: { workflowId: number; catalog: Catalog }) {
  const [nodes, setNodes, onNodesChange] = useNodesState<CanvasNode>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [showVersions, setShowVersions] = useState(false);
  const [showSettings, setShowSettings] = useState(false);
  const [view, setView] = useState<CanvasView | null>(null);  // an old version or a diff, read-only
  const [picker, setPicker] = useState<{ spot: Spot; at: Point } | null>(null);
  const flow = useReactFlow();
  const current = useRef({ nodes, edges });
  current.current = { nodes, edges };
  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
  const testData = useTestData(workflowId);
  const secrets = useSecretNames();
  const lastRun = useLastRun(workflowId);


  // Problems and the draft's life depend on each other (a save reports problems): useDraft takes a
  // forwarding callback so either can be built first.
  const onProblems = useRef<(found: Parameters<ReturnType<typeof useProblems>["fromSave"]>[0]) => void>(() => undefined);
  const draft = useDraft({ workflowId, catalog, graph, current, setNodes, setEdges, setStatus,
                           onProblems: useCallback((found) => onProblems.current(found), []) });
  const problems = useProblems({ graph, draftKey: draft.draftKey, paused: Boolean(view), setNodes, setStatus });
  onProblems.current = problems.fromSave;
  const { setDirty } = draft;
  const listener = useTestDelivery(workflowId, draft.saveDraft);
  const tests = useTestRun({ workflowId, initialPins: draft.pins, saveDraft: draft.saveDraft, reload: lastRun.reload, setStatus,
                             onProblems: useCallback((found) => onProblems.current(found), []) });
  const edited = useCallback(() => setDirty(true), [setDirty]);

  // Undo/redo: a snapshot of the graph is taken before each change the user makes (typing in
  // the panel coalesces into one snapshot a second). See history.ts.
  const history = useRef(createHistory<Graph>());
  const checkpoint = useCallback((coalesce = false) => {
    history.current.checkpoint(toGraph(current.current.nodes, current.current.edges), { coalesce });
  }, []);
  const restore = useCallback((g: Graph | undefined) => {
    if (!g) return;
    const c = toCanvas(g, catalog);
    setNodes(c.nodes);
    setEdges(c.edges);
    edited();
  }, [catalog, edited, setEdges, setNodes]);
  const undo = useCallback(() => restore(history.current.undo(toGraph(current.current.nodes, current.current.edges))), [restore]);
  const redo = useCallback(() => restore(history.current.redo(toGraph(current.current.nodes, current.current.edges))), [restore]);
  const clipboard = useClipboard({ catalog, current, checkpoint, setNodes, setEdges, edited, setStatus });

  // Fit the whole graph when it stays readable (zoom >= 0.75), else its first nodes from the
  // trigger, at the left of the view (layout.ts). The canvas' minZoom is lower so that the Fit view
  // control can show everything.
  const fitted = useRef(0);
  const fit = useCallback(() => {
    const box = document.querySelector(".canvas .react-flow")?.getBoundingClientRect();
    if (!box || !flow.getNodes().length) return;
    // Counted on the canvas element, so that tests (and anyone) can wait for a fit to have happened.
    document.querySelector(".canvas")?.setAttribute("data-fitted", String(++fitted.current));
    openReadable(flow, box);
  }, [flow]);
  // When a draft, a version or a diff is opened: once React Flow has measured every node shown.
  const pendingFit = useRef(false);
  const afterFit = useRef<(() => void) | null>(null);
  useEffect(() => { if (draft.loaded?.fit) pendingFit.current = true; }, [draft.loaded]);

  /** A fresh canvas node of `type`, unplaced and selected. */
  const fresh = useCallback((type: string): CanvasNode => ({
    id: freshId(type, new Set(current.current.nodes.map((x) => x.id))), type: canvasType(type, catalog), position: { x: 0, y: 0 },
    data: { type, config: defaults(catalog[type]), spec: catalog[type] }, ariaLabel: "", selected: true,
  }), [catalog]);
  const put = useCallback((next: { nodes: CanvasNode[]; edges: Edge[] }, id: string) => {
    checkpoint();
    setNodes(next.nodes.map((n) => (n.id === id ? { ...n, ariaLabel: id, selected: true } : { ...n, selected: false })));
    setEdges(next.edges);
    setSelected(id);
    edited();
    // A node added off screen (after a node at the view's edge) is panned into view, zoom unchanged.
    const added = next.nodes.find((n) => n.id === id);
    const box = document.querySelector(".canvas .react-flow")?.getBoundingClientRect();
    if (!added || !box) return;
    const { x, y, zoom } = flow.getViewport();
    const left = added.position.x * zoom + x, top = added.position.y * zoom + y;
    const right = left + 240 * zoom, bottom = top + 90 * zoom;
    const dx = right > box.width - FIT_PADDING ? box.width - FIT_PADDING - right : left < FIT_PADDING ? FIT_PADDING - left : 0;
    const dy = bottom > box.height - FIT_PADDING ? box.height - FIT_PADDING - bottom : top < FIT_PADDING ? FIT_PADDING - top : 0;
    if (dx || dy) flow.setViewport({ x: x + dx, y: y + dy, zoom }, { duration: 200 });
  }, [checkpoint, edited, flow, setEdges, setNodes]);
  const handlesOf = useCallback((n: CanvasNode) => outputHandles(n.data.spec, n.data.config), []);

  /** Insert a node of `type` after a handle or on an edge, connected. */
  const insert = useCallback((type: string, spot: Spot, at?: Point) => {
    const n = fresh(type);
    const { nodes: ns, edges: es } = current.current;
    const makeEdge = (e: { id: string; source: string; target: string; sourceHandle?: string | null }): Edge => ({ ...e, sourceHandle: e.sourceHandle ?? null });
    if ("edge" in spot) {
      if (catalog[type]?.trigger) { setStatus("A trigger starts a workflow: nothing can lead into it"); return; }
      put(insertOnEdge(ns, es, n, spot.edge, handlesOf(n)[0], makeEdge, at), n.id);
    } else {
      const source = ns.find((x) => x.id === spot.source);
      if (!source) return;
      put(insertAfter(ns, es, n, spot.source, spot.handle, handlesOf(source), makeEdge), n.id);
    }
    setStatus(`Added ${n.id}`);
  }, [catalog, fresh, handlesOf, put]);

  // A palette click adds the node after the selected one (its first output), else near the view's
  // centre; a drop adds it where it is dropped, or on the edge it is dropped on.
  const addNode = useCallback((type: string, position?: Point, screen?: Point) => {
    const { nodes: ns, edges: es } = current.current;
    const onEdge = screen ? edgeAt(screen.x, screen.y) : null;
    if (onEdge && !catalog[type]?.trigger) { insert(type, { edge: onEdge }, position); return; }
    const after = !position ? ns.find((x) => x.id === selected) : undefined;
    if (after && !catalog[type]?.trigger && !after.data.readOnly) { insert(type, { source: after.id, handle: handlesOf(after)[0] }); return; }
    const box = document.querySelector(".canvas")?.getBoundingClientRect();
    const centre = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 3 }) : { x: 0, y: 0 };
    const n = fresh(type);
    put({ nodes: [...ns, { ...n, position: position ?? { x: centre.x + 60, y: centre.y + (ns.length % 5) * 70 } }], edges: es }, n.id);
  }, [catalog, flow, fresh, handlesOf, insert, put, selected]);

  const actions = useMemo(() => ({ pick: (spot: Spot, at: Point) => setPicker({ spot, at }) }), []);

  // Refused while dragging, so an invalid edge is never drawn (graph.ts says which and why).
  const isValidConnection = useCallback((c: Connection | Edge) => connectionProblem(c, nodes, edges) === null, [edges, nodes]);
  const onConnect = useCallback((c: Connection) => {
    checkpoint();
    setEdges((es) => addEdge({ ...c, id: edgeId(c.source, c.sourceHandle, c.target) }, es));
    edited();
  }, [checkpoint, edited, setEdges]);

  const readOnly = Boolean(view);
  useShortcuts({ readOnly, current, save: draft.save, undo, redo, copy: clipboard.copy, paste: clipboard.paste });

  const autoLayout = useCallback(async () => {
    const laid = await layout(current.current.nodes, current.current.edges, handlesOf);
    checkpoint();
    const at = new Map(laid.map((n) => [n.id, n.position]));
    setNodes((ns) => ns.map((n) => (at.has(n.id) ? { ...n, position: at.get(n.id)! } : n)));
    edited();
    // Fitted once React Flow has the new positions (the effect below), then said.
    pendingFit.current = true;
    afterFit.current = () => setStatus(`Laid out ${laid.length} nodes`);
  }, [checkpoint, edited, handlesOf, setNodes]);

  const exportGraph = useCallback(() => {
    const blob = new Blob([JSON.stringify(graph, null, 2)], { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `${draft.name || "workflow"}.json`;
    link.click();
    URL.revokeObjectURL(link.href);
  }, [draft.name, graph]);
  const importGraph = useCallback(async (file: File) => {
    try {
      const parsed = JSON.parse(await file.text()) as Graph;
      if (!Array.isArray(parsed.nodes) || !Array.isArray(parsed.edges)) throw new Error("not a graph");
      const c = toCanvas(parsed, catalog);
      checkpoint();
      setNodes(c.nodes);
      setEdges(c.edges);
      edited();
      setStatus(`Imported ${parsed.nodes.length} nodes`);
    } catch {
      setStatus("That file is not a workflow graph (JSON with nodes and edges)");
    }
  }, [catalog, checkpoint, edited, setEdges, setNodes]);

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

  // What the canvas shows: the draft with its missing-secret marks, or the view; edges with arrowheads.
  const draftShown = useMemo(() => nodes.map((n) => {
    const missing = missingSecrets({ id: n.id, type: n.data.type, data: n.data.config }, n.data.spec, secrets.names);
    const pinned = n.id in tests.pins;
    return missing.join() === (n.data.missing ?? []).join() && pinned === Boolean(n.data.pinned) ? n : { ...n, data: { ...n.data, missing, pinned } };
  }), [nodes, secrets.names, tests.pins]);
  const shown = view ? view.nodes : draftShown;
  const shownEdges = useMemo(() => (view ? view.edges : edges).map((e) => ({
    ...e, markerEnd: ARROW, type: view ? undefined : "insertable",
    data: view ? e.data : { items: itemsLabel(itemCount(lastRun.byNode.get(e.source))) },
  })), [edges, lastRun.byNode, view]);
  const measured = shown.length > 0 && shown.every((n) => n.measured?.width && n.measured?.height);
  useEffect(() => {
    if (!pendingFit.current || !measured) return;
    pendingFit.current = false;
    window.requestAnimationFrame(() => {
      fit();
      afterFit.current?.();
      afterFit.current = null;
    });
  }, [fit, measured, shown]);
  const selectedNode = shown.find((n) => n.id === selected);
  const selectedUpstream = useMemo(() => (selected ? upstream(selected, view ? view.edges : edges) : []), [edges, selected, view]);
  const sample = useMemo(() => (selected && !view ? sampleFor(selected, lastRun.run, lastRun.byNode, edges,
    new Set(nodes.filter((n) => n.data.spec?.trigger).map((n) => n.id))) : null), [edges, lastRun, nodes, selected, view]);
  const changes = selectedNode && view?.compare ? fieldChanges(view.compare.older, view.compare.newer, selectedNode.id) : [];
  const webhook = nodes.some((n) => n.data.type === "webhook");
  const selectProblem = useCallback((id: string) => {
    setSelected(id);
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
  }, [setNodes]);
  // Opened from an error's frame (the live view): ?node=&field=&line= selects the node and shows the line.
  useEffect(() => {
    if (!draft.loaded) return;
    const place = placeFromQuery(location.search);
    if (!place?.node || !current.current.nodes.some((n) => n.id === place.node)) return;
    selectProblem(place.node);
    if (place.field && place.line) requestReveal({ target: `field-${place.field}`, line: place.line, column: place.column });
    setStatus(`Opened ${place.node}${place.field ? `, ${place.field}${place.line ? ` line ${place.line}` : ""}` : ""}`);
    window.history.replaceState(null, "", location.pathname);
  }, [draft.loaded, selectProblem]);
  const run = useCallback(() => {
    if (!testData.payload.ok) { setStatus("The test payload is not JSON"); return; }
    draft.run(testData.payload.value);
  }, [draft, testData.payload]);
  // Testing the selected node (partialRun.ts): what it would be given, and the two kinds of partial run.
  const testNodes = useMemo(() => nodes.map((n) => ({ id: n.id, spec: n.data.spec })), [nodes]);
  const canTest = useMemo(() => (selected && !view ? testable(testNodes.find((n) => n.id === selected), loopBodies(testNodes, edges)) : false),
    [edges, selected, testNodes, view]);
  const testPlan = useMemo(() => (canTest && selected ? testNodeRun(selected, testNodes, edges, tests.pins, lastRun.byNode) : null),
    [canTest, edges, lastRun.byNode, selected, testNodes, tests.pins]);
  const partial = useCallback((which: "node" | "upTo") => {
    if (!selected || !testPlan) return;
    if (!testData.payload.ok) { setStatus("The test payload is not JSON"); return; }
    const r = which === "node" ? testPlan : upToHereRun(selected, testNodes, edges, tests.pins);
    tests.start(r, testData.payload.value, which === "node" ? `Test of ${selected}` : `Run up to ${selected}`);
  }, [edges, selected, testData.payload, testNodes, testPlan, tests]);

  return (
    <EditorContext.Provider value={readOnly ? null : actions}>
    <SampleContext.Provider value={sample}>
    <div className="editor">
      <Toolbar workflowId={workflowId} name={draft.name} dirty={draft.dirty} readOnly={readOnly} loaded={Boolean(draft.loaded)}
               live={draft.live} draftKey={draft.draftKey} payloadOk={testData.payload.ok} payloadOpen={testData.open}
               payloadButton={testData.button} showVersions={showVersions}
               on={{ save: draft.save, validate: problems.validate, publish: draft.publish, togglePayload: () => testData.setOpen((v) => !v),
                     run, undo, redo, autoLayout, exportGraph, importGraph, toggleVersions: () => setShowVersions((v) => !v),
                     toggleSettings: () => setShowSettings((v) => !v) }} />
      {draft.pending && <PublishDialog check={draft.pending} onPublish={draft.confirmPublish} onCancel={draft.cancelPublish} />}
      {showSettings && <SettingsDialog workflowId={workflowId} onClose={() => setShowSettings(false)} setStatus={setStatus} />}
      {testData.open && <PayloadDialog data={testData} webhook={webhook} onRun={run} listener={listener}
                                       onRunDelivery={(d) => draft.run(null, d)} />}
      <Palette catalog={catalog} disabled={readOnly} onAdd={(t) => addNode(t)} />
      <main className={`canvas${view ? " viewing" : ""}`} onDragOver={(e) => e.preventDefault()}
            onDrop={(e) => {
              const t = e.dataTransfer.getData(NODE_TYPE_MIME);
              if (t && !view) addNode(t, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }), { x: e.clientX, y: e.clientY });
            }}>
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
        {draft.loaded && !view && nodes.length === 0 && <p className="empty muted">Drag a trigger from the palette to start, then add steps and connect them.</p>}
        <span role="status" className="status" aria-live="polite">{status}</span>
        {draft.loaded && <ReactFlow nodes={shown} edges={shownEdges} nodeTypes={nodeTypes} edgeTypes={edgeTypes}
                   onNodesChange={view ? onViewNodesChange : (c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onNodesChange(c); if (c.some((x) => x.type !== "select" && x.type !== "dimensions")) edited(); }}
                   onEdgesChange={view ? undefined : (c) => { if (c.some((x) => x.type === "remove")) checkpoint(); onEdgesChange(c); if (c.some((x) => x.type !== "select")) edited(); }}
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
          <Controls aria-label="Zoom controls" />
        </ReactFlow>}
        {picker && (
          <NodePicker catalog={catalog} at={picker.at} onClose={() => setPicker(null)}
                      title={"edge" in picker.spot ? "Insert a node on this edge" : `Add a node after ${picker.spot.source}`}
                      onPick={(type) => { insert(type, picker.spot); setPicker(null); }} />
        )}
      </main>
      <div className="side">
        {selectedNode && changes.length > 0 && (
          // Above the version list or the node's panel: which fields of the selected node the diff changed.
          <section className="field-diff" aria-label={`Changes of ${selectedNode.id}`}>
            <h3>Changed fields of <code>{selectedNode.id}</code></h3>
            <dl>{changes.map((c) => (
              <div key={c.field}><dt>{c.field}</dt><dd><del>{shownValue(c.before)}</del> → <ins>{shownValue(c.after)}</ins></dd></div>))}</dl>
          </section>
        )}
        {showVersions && <Versions workflowId={workflowId} catalog={catalog} onClose={() => setShowVersions(false)} onView={openView}
                                   changed={draft.versionsChanged} onPublished={(number, g) => draft.setLive({ number, key: g ? semanticKey(g) : "" })} />}
        {!showVersions && selectedNode?.data.spec && (
          <Panel id={selectedNode.id} spec={selectedNode.data.spec} config={selectedNode.data.config} upstream={selectedUpstream}
                 problems={view ? [] : selectedNode.data.problems} readOnly={readOnly} secretNames={secrets.names}
                 missing={view ? [] : selectedNode.data.missing}
                 lastRun={<>
                   {canTest && testPlan && (
                     <TestNode nodeId={selectedNode.id} plan={testPlan.plan} busy={tests.busy !== null}
                               pinned={selectedNode.id in tests.pins} pinnedValue={tests.pins[selectedNode.id]}
                               lastOutput={lastRun.byNode.get(selectedNode.id)?.status === "complete" ? lastRun.byNode.get(selectedNode.id)! : null}
                               onTest={() => partial("node")} onUpTo={() => partial("upTo")}
                               onPin={(output) => tests.pin(selectedNode.id, output)} onUnpin={() => tests.unpin(selectedNode.id)} />
                   )}
                   {!view && lastRun.run
                     ? <LastRun workflowId={workflowId} run={lastRun.run} nodeId={selectedNode.id} node={lastRun.byNode.get(selectedNode.id)} />
                     : null}
                 </>}
                 onChange={(config) => { checkpoint(true); setNodes((ns) => ns.map((n) => (n.id === selectedNode.id ? { ...n, data: { ...n.data, config } } : n))); edited(); }}>
            {/* In the side column, so it never covers the canvas (or a node with a problem). */}
            {!view && selectedNode.data.type === "webhook" && draft.hookUrl && <WebhookHelp baseUrl={draft.hookUrl} config={selectedNode.data.config} />}
          </Panel>
        )}
        {!showVersions && !selectedNode && (
          // The side column is always there, so selecting a node never resizes the canvas.
          <aside className="panel hint" aria-label="Help">
            {view ? <p className="muted">Select a node to see its configuration in this version{view.compare ? " and which of its fields changed" : ""}.</p>
              : !draft.loaded ? <p className="muted">Loading…</p>
              : nodes.length === 0 ? <p className="muted">Start with a trigger: drag Manual start, Webhook or Schedule from the palette (or click it). Then add steps and drag from a node's right handle to the next node's left handle.</p>
              : <p className="muted">Select a node to configure it. The + on a node's output or on an edge adds the next node there; a palette click adds it after the selected node. Delete removes the selection; Ctrl/Cmd+C, V copy and paste; Ctrl/Cmd+Z undoes.</p>}
          </aside>
        )}
        {/* Outside the canvas, so it never covers a node. */}
        {draft.loaded && <MiniMap className="side-minimap" pannable zoomable ariaLabel="Minimap" maskColor="rgba(128, 128, 128, 0.3)" bgColor="transparent"
                                  nodeColor={(n) => GROUP_COLOURS[(n.data as CanvasNode["data"]).spec?.group ?? ""] ?? "#999"} />}
      </div>
      {!view && <Problems problems={problems.problems} onSelect={selectProblem} />}
    </div>
    </SampleContext.Provider>
    </EditorContext.Provider>
  );
}

export function Editor({ workflowId }: { workflowId: number }) {
  const [catalog, setCatalog] = useState<Catalog | null>(null);
  useEffect(() => {
    api.GET("/api/v1/catalog").then(({ data }) => {
      setCatalog(Object.fromEntries((data ?? []).map((c) => [c.type, c as CatalogEntry])));
    });
  }, []);
  if (!catalog) return <p className="muted">Loading…</p>;
  return <ReactFlowProvider><Canvas workflowId={workflowId} catalog={catalog} /></ReactFlowProvider>;
}
