// The live view of one instance: its version's graph, read-only, with each node's state overlaid,
// the edges taken highlighted, a timeline of steps and attempts, streamed log lines, the details
// of a clicked node, and the instance's actions (pause, resume, terminate, restart, events, approvals).
// The view is a projection of the event log (state.ts); the socket (socket.ts) keeps it complete.
import { applyNodeChanges, Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow, type Edge, type Node, type NodeChange } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, type CatalogEntry, type NodeSpecFlags } from "../api/client";
import { newestOnly, oneAtATime } from "../exclusive";
import { navigate } from "../router";
import { openReadable } from "../readableView";
import { diagramOf } from "../code/diagram";
import { DiagramView } from "../code/DiagramView";
import { ErrorBox, Inspector, type SnapshotStep } from "./Inspector";
import { LiveNode, type LiveNodeData } from "./LiveNode";
import { connectionText, useLiveInstance } from "./socket";
import { FINISHED, ROLLBACK_TEXT, chainOf, clockTime, describe, duration, nodeOf, parse, project, type Graph, type LiveState } from "./state";
import { nodeForStep, overlay } from "./programOverlay";
import { Timeline } from "./Timeline";
import "./live.css";

export type Snapshot = {
  id: string; key: string; workflow: number; version_number: number | null; status: string; params: unknown;
  output: unknown; error: unknown; created_at: string; steps: SnapshotStep[];
};

// Kept importable from here: the router lives in ../router.ts.
export { navigate };

const nodeTypes = { live: LiveNode };
// SVG fills in the minimap cannot read CSS variables: fixed colours that read in light and dark.
const MINIMAP: Record<string, string> = {
  queued: "#b0b6c0", running: "#2f6fed", retrying: "#ef6c00", sleeping: "#8e24aa", waiting: "#8e24aa",
  succeeded: "#2e7d32", failed: "#c62828", skipped: "#dde1e6",
};

function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}

function LiveCanvas({ instanceId }: { instanceId: string }) {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [graph, setGraph] = useState<Graph | null | undefined>(undefined);  // null: code-first version
  const [loadError, setLoadError] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [message, setMessage] = useState("");
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  // Only the newest read's answer is shown: an older one arriving last would leave stale outputs
  // on a finished instance (no event comes to trigger another read).
  const ticket = useRef(newestOnly()).current;
  const loadSnapshot = useCallback(async () => {
    const newest = ticket();
    // While the server is away the fetch fails: keep what is shown, the next (re)connection re-reads.
    const answer = await api.GET("/api/v1/instances/{instance_id}", { params: { path: { instance_id: instanceId } } }).catch(() => null);
    if (!answer || !newest()) return;
    const { data, error, response } = answer;
    if (response.status === 404) { setLoadError("No such instance (or not in this tenant)"); return; }
    if (error || !data) { setLoadError(errorMessage(error)); return; }
    setSnapshot(data as unknown as Snapshot);
  }, [instanceId]);
  // The snapshot adds full outputs to what the events say: re-read at most every second while events arrive.
  const onActivity = useCallback(() => {
    if (refreshTimer.current) return;
    refreshTimer.current = setTimeout(() => { refreshTimer.current = undefined; loadSnapshot(); }, 1000);
  }, [loadSnapshot]);
  useEffect(() => () => clearTimeout(refreshTimer.current), []);
  const { state, connection, refusal } = useLiveInstance(instanceId, onActivity);

  useEffect(() => { loadSnapshot(); }, [loadSnapshot]);
  const workflowId = snapshot?.workflow;
  const versionNumber = snapshot?.version_number;
  useEffect(() => {
    if (workflowId === undefined || versionNumber == null) return;
    api.GET("/api/v1/workflows/{workflow_id}/versions/{number}", { params: { path: { workflow_id: workflowId, number: versionNumber } } })
      .then(({ data }) => setGraph((data?.graph as Graph | null) ?? null));
  }, [workflowId, versionNumber]);

  // A code-first version: its program, drawn as a diagram (code/diagram.ts) with the instance's state on it.
  const [program, setProgram] = useState<string | null>(null);
  useEffect(() => {
    if (graph !== null || workflowId === undefined || versionNumber == null) return;
    fetch(`/api/v1/workflows/${workflowId}/versions/${versionNumber}/program`, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : null)).then(setProgram).catch(() => setProgram(null));
  }, [graph, workflowId, versionNumber]);
  const diagram = useMemo(() => (graph === null && program ? diagramOf(program).diagram : null), [graph, program]);
  const codeLive = useMemo(() => (diagram ? overlay(diagram, state) : null), [diagram, state]);

  const active = !FINISHED.includes(state.status);
  const now = useNow(active);
  // Each node with its type's spec flags from the catalog: all the view knows of its behaviour.
  const [catalog, setCatalog] = useState<Record<string, NodeSpecFlags> | null>(null);
  useEffect(() => {
    api.GET("/api/v1/catalog").then(({ data }) => {
      setCatalog(Object.fromEntries(((data ?? []) as unknown as CatalogEntry[]).map((c) => [c.type, c])));
    });
  }, []);
  const shown: Graph | null = useMemo(() => {
    if (graph === undefined) return null;
    if (graph === null) return chainOf(state);
    if (catalog === null) return null;
    return { ...graph, nodes: graph.nodes.map((n) => ({ ...n, spec: catalog[n.type] })) };
  }, [graph, state, catalog]);
  const projection = useMemo(() => (shown ? project(shown.nodes, shown.edges, state) : null), [shown, state]);

  const ended = FINISHED.includes(state.status) ? state.status : null;
  const nodes: Node<LiveNodeData>[] = useMemo(() => (shown?.nodes ?? []).map((n) => {
    const live = projection?.nodes[n.id];
    // A step caught in flight by the end of its instance (terminated) keeps its record's state: say so.
    const stopped = ended && live && ["running", "retrying", "sleeping", "waiting"].includes(live.state) ? `stopped while ${live.state} (${ended})` : "";
    const handles = [...new Set(shown!.edges.filter((e) => e.source === n.id).map((e) => e.sourceHandle ?? null))];
    return {
      id: n.id, type: "live", position: n.position, selected: n.id === selected, ariaLabel: n.id,
      data: { type: n.type, label: String(n.data?.label ?? n.id), handles: handles.length ? handles : [null],
              trigger: !!n.spec?.trigger, live, text: stopped || describe(live, now) || (live?.state ?? "") },
    };
  }), [shown, projection, selected, now, ended]);
  // React Flow writes each node's measured size back through onNodesChange; a node without it stays
  // hidden. Keep the sizes across recomputed nodes (they are rebuilt on every event and tick).
  const [flowNodes, setFlowNodes] = useState<Node<LiveNodeData>[]>([]);
  useEffect(() => {
    setFlowNodes((old) => {
      const seen = new Map(old.map((n) => [n.id, n]));
      return nodes.map((n) => ({ ...n, measured: seen.get(n.id)?.measured }));
    });
  }, [nodes]);
  const onNodesChange = useCallback((changes: NodeChange<Node<LiveNodeData>>[]) => {
    setFlowNodes((ns) => applyNodeChanges(changes.filter((c) => c.type === "dimensions"), ns));
  }, []);
  // Opened readable, as the editor opens a graph (readableView.ts): once, when every node has been measured.
  const flow = useReactFlow();
  const opened = useRef(false);
  const measured = flowNodes.length > 0 && flowNodes.every((n) => n.measured?.width && n.measured?.height);
  useEffect(() => {
    if (opened.current || !measured) return;
    opened.current = true;
    window.requestAnimationFrame(() => {
      const box = document.querySelector(".live-canvas .react-flow")?.getBoundingClientRect();
      if (box && openReadable(flow, box)) document.querySelector(".live-canvas")?.setAttribute("data-fitted", "1");
    });
  }, [flow, measured]);
  const edges: Edge[] = useMemo(() => (shown?.edges ?? []).map((e) => {
    const taken = !!projection?.edges[e.id];
    const running = taken && ["running", "retrying"].includes(projection?.nodes[e.target]?.state ?? "");
    return { id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? null, animated: running,
             className: taken ? "taken" : "not-taken", data: { taken } };
  }), [shown, projection]);

  // The input a node received: the value its taken upstream node passed on (params after a trigger).
  const valueOf = useCallback((id: string, depth = 0): unknown => {
    const n = shown?.nodes.find((x) => x.id === id);
    if (!n || depth > 50) return undefined;
    if (n.spec?.trigger) return snapshot?.params;
    const live = projection?.nodes[id];
    if (n.spec?.passes_input || !live?.steps.length) return inputOf(id, depth + 1);
    const last = live.steps[live.steps.length - 1];
    const row = snapshot?.steps.find((s) => s.name === last.name && s.status === "complete");
    const out = row ? row.output : parse(last.output);
    if (n.spec?.handle_from_output === "decision") return { ...((out as { payload?: object })?.payload ?? {}), timedOut: !!last.timedOut };
    return out;
  }, [projection, shown, snapshot]);  // eslint-disable-line react-hooks/exhaustive-deps
  const inputOf = useCallback((id: string, depth = 0): unknown => {
    const ins = (shown?.edges ?? []).filter((e) => e.target === id && projection?.edges[e.id]);
    const n = shown?.nodes.find((x) => x.id === id);
    if (n?.spec?.merges) return Object.fromEntries(ins.map((e) => [e.source, valueOf(e.source, depth + 1)]));
    return ins.length ? valueOf(ins[0].source, depth + 1) : n && !(shown?.edges ?? []).some((e) => e.target === id) ? snapshot?.params : undefined;
  }, [projection, shown, snapshot, valueOf]);

  // One action at a time: a double click must not send an event (or restart, approve) twice.
  const exclusive = useMemo(() => oneAtATime(), []);
  const act = useMemo(() => exclusive(async (label: string, call: () => Promise<{ error?: unknown }>) => {
    setMessage(`${label}…`);
    const answer = await call().catch(() => null);
    if (!answer) { setMessage(`${label} failed: the server is not answering`); return; }
    setMessage(answer.error ? `${label} failed: ${errorMessage(answer.error)}` : `${label}: done`);
    loadSnapshot();
  }), [exclusive, loadSnapshot]);
  const path = { params: { path: { instance_id: instanceId } } };
  const pause = () => act("Pause", () => api.POST("/api/v1/instances/{instance_id}/pause", path));
  const resume = () => act("Resume", () => api.POST("/api/v1/instances/{instance_id}/resume", path));
  const terminate = () => { if (confirm("Terminate this instance? It cannot be resumed.")) act("Terminate", () => api.POST("/api/v1/instances/{instance_id}/terminate", path)); };
  const terminateRollback = () => {
    if (confirm("Terminate this instance after running the rollback handlers of its completed steps (latest first)?")) {
      act("Terminate with rollback", () => api.POST("/api/v1/instances/{instance_id}/terminate", { ...path, body: { rollback: true } }));
    }
  };
  const restart = (from: string | null) => act(from ? `Restart from ${from}` : "Restart", () =>
    api.POST("/api/v1/instances/{instance_id}/restart", { ...path, body: { from_step: from } }));
  const decide = (step: string, decision: "approve" | "reject") => act(decision === "approve" ? `Approve ${step}` : `Reject ${step}`, () =>
    api.POST("/api/v1/instances/{instance_id}/approvals/{step}", { params: { path: { instance_id: instanceId, step } }, body: { decision, comment: "" } }));
  const [eventType, setEventType] = useState("");
  const [eventPayload, setEventPayload] = useState("{}");
  const send = (e: React.FormEvent) => {
    e.preventDefault();
    let payload: unknown;
    try { payload = JSON.parse(eventPayload || "null"); } catch { setMessage("The event payload is not JSON"); return; }
    act(`Send ${eventType}`, () => api.POST("/api/v1/instances/{instance_id}/events", { ...path, body: { type: eventType, payload } }));
  };

  const approvals = state.steps.filter((s) => s.state === "waiting" && s.eventType === `approval:${s.name}`);
  const diagramNode = diagram?.nodes.find((n) => n.id === selected && n.kind === "step");
  const selectedNode = diagramNode ? { id: diagramNode.name!, type: diagramNode.op! } : shown?.nodes.find((n) => n.id === selected);
  const selectedLive = diagramNode ? codeLive?.[diagramNode.id] : selected ? projection?.nodes[selected] : undefined;
  const restartFrom = selectedLive?.steps[0]?.name;
  const status = state.status === "unknown" ? snapshot?.status ?? "…" : state.status;
  const took = state.startedAt !== undefined ? duration((state.finishedAt ?? now) - state.startedAt) : "";

  if (loadError || connection === "refused") {
    return (
      <div className="list">
        <p role="alert">{connection === "refused" ? `Live progress refused: ${refusal}` : loadError}</p>
        <span className={`connection connection-${connection}`} aria-label="Connection">{connectionText(connection, refusal)}</span>
        <p><a href="/editor/">← Workflows</a></p>
      </div>
    );
  }
  return (
    <div className="live">
      <header className="toolbar">
        <a href={workflowId ? `/editor/w/${workflowId}` : "/editor/"} onClick={(e) => { e.preventDefault(); navigate(workflowId ? `/editor/w/${workflowId}` : "/editor/"); }}>← Editor</a>
        {workflowId !== undefined && <a href={`/editor/w/${workflowId}/instances`} onClick={(e) => { e.preventDefault(); navigate(`/editor/w/${workflowId}/instances`); }}>Instances</a>}
        <h1>Instance <code>{snapshot?.key ?? instanceId}</code> {versionNumber != null && <span className="muted">v{versionNumber}</span>}</h1>
        <span className={`badge status-${status}`} aria-label="Instance status">{status}</span>
        {took && <span className="muted">{took}</span>}
        <span className={`connection connection-${connection}`} aria-label="Connection" title={`last event ${state.lastEventId}`}>
          {connectionText(connection, refusal)}</span>
        <span className="spacer" />
        {approvals.map((a) => (
          <span key={a.key} className="approval" role="group" aria-label={`Approval ${a.name}`}>
            {a.name}: <button onClick={() => decide(a.name, "approve")}>Approve</button>
            <button onClick={() => decide(a.name, "reject")}>Reject</button>
          </span>
        ))}
        {["queued", "running", "waiting"].includes(status) && <button onClick={pause}>Pause</button>}
        {status === "paused" && <button onClick={resume}>Resume</button>}
        {!FINISHED.includes(status as LiveState["status"]) && <button onClick={terminate}>Terminate</button>}
        {!FINISHED.includes(status as LiveState["status"]) && !state.rollback && <button onClick={terminateRollback} title="Terminate with rollback: run the rollback handlers of the completed steps first">Stop with rollback</button>}
        <button onClick={() => restart(null)}>Restart</button>
        {restartFrom && <button onClick={() => restart(restartFrom)}>Restart from {restartFrom}</button>}
      </header>
      <main className="canvas live-canvas">
        {diagram && codeLive ? (
          <DiagramView diagram={diagram} live={codeLive} describe={(l) => describe(l, now)} selected={selected}
                       onSelect={(n) => setSelected(n?.kind === "step" ? n.id : null)} />
        ) : shown === null ? <p className="muted">Loading…</p> : (
          <ReactFlow nodes={flowNodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange} nodesDraggable={false} nodesConnectable={false}
                     elementsSelectable onNodeClick={(_, n) => setSelected(n.id)} onPaneClick={() => setSelected(null)}
                     minZoom={0.1} fitViewOptions={{ maxZoom: 1 }} proOptions={{ hideAttribution: true }}>
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        )}
      </main>
      <aside className="live-side">
        {/* Beside the canvas, never over it: at 1280x800 a corner minimap hid a node's state. */}
        {shown !== null && <MiniMap className="side-minimap" pannable zoomable ariaLabel="Minimap" bgColor="transparent" maskColor="rgba(128, 128, 128, 0.3)"
                                    nodeColor={(n) => MINIMAP[(n.data as LiveNodeData).live?.state ?? "queued"] ?? "#ccc"} />}
        {selected && (
          <Inspector instanceId={instanceId} nodeId={selectedNode?.id ?? selected} type={selectedNode?.type ?? ""} live={selectedLive}
                     input={diagramNode ? snapshot?.params : inputOf(selected)} workflowId={workflowId}
                     state={state} snapshot={snapshot?.steps} now={now} onClose={() => setSelected(null)} />
        )}
        <Timeline state={state} now={now} selected={diagramNode?.name ?? selected}
                  onSelect={(name) => setSelected(diagram && codeLive && name ? nodeForStep(diagram, codeLive, name)?.id ?? null : name)} />
        {state.error && <div role="alert"><ErrorBox error={state.error} workflowId={workflowId} /></div>}
        {state.rollback && <RollbackChain state={state} now={now}
                                          onSelect={(name) => setSelected(diagram && codeLive ? nodeForStep(diagram, codeLive, name)?.id ?? null : nodeOf(name))} />}
        {status === "complete" && <><h3>Output</h3><pre className="json">{JSON.stringify(snapshot?.status === "complete" ? snapshot.output : parse(state.output), null, 2)}</pre></>}
        <form className="send-event" onSubmit={send} aria-label="Send an event">
          <h3>Send an event</h3>
          <input aria-label="Event type" placeholder="type, e.g. payment" value={eventType} onChange={(e) => setEventType(e.target.value)} required />
          <textarea aria-label="Event payload" className="code" rows={3} value={eventPayload} onChange={(e) => setEventPayload(e.target.value)} />
          <button type="submit" disabled={FINISHED.includes(status as LiveState["status"])}>Send</button>
        </form>
      </aside>
      <section className="live-logs" aria-label="Logs">
        <span role="status" className="status">{message}</span>
        <pre>{state.logs.slice(-200).map((l) => `${clockTime(l.at)} ${l.step ?? "-"} ${l.level} ${l.message}`).join("\n") || "No log lines yet."}</pre>
      </section>
    </div>
  );
}

/** The rollback phase: why it began, then each step's rollback in the order they run. */
function RollbackChain({ state, now, onSelect }: { state: LiveState; now: number; onSelect: (id: string) => void }) {
  const phase = state.rollback!;
  const byKey = new Map(state.steps.map((s) => [s.key, s]));
  return (
    <section className="rollback-chain" aria-label="Rollbacks">
      <h3>Rollbacks {phase.reason === "terminate" ? "(terminated with rollback)" : "(the instance failed)"}</h3>
      {phase.chain.length === 0 && <p className="muted">No completed step has a rollback handler yet.</p>}
      <ol>
        {phase.chain.map((key) => {
          const step = byKey.get(key);
          const r = step?.rollback;
          if (!step || !r) return null;
          const retry = r.state === "retrying" && r.retryAt !== undefined ? ` · next in ${duration(Math.max(0, r.retryAt - now))}` : "";
          return (
            <li key={key} className={`rollback-${r.state}`} data-rollback={r.state}>
              <button type="button" className="link" onClick={() => onSelect(step.name)}>{key}</button>
              {" "}{ROLLBACK_TEXT[r.state]}{r.attempts > 1 ? ` · ${r.attempts} attempts` : ""}{retry}
              {r.error && r.state !== "done" && <div className="muted">{r.error.name}: {r.error.message}</div>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

export function LiveView({ instanceId }: { instanceId: string }) {
  return <ReactFlowProvider><LiveCanvas key={instanceId} instanceId={instanceId} /></ReactFlowProvider>;
}
