// A code-first program's diagram (diagram.ts) on a read-only React Flow canvas, top to bottom. With
// `live` (the live view), each step node shows its state, as a drawn workflow's nodes do; a click
// on a node says which (the page opens its line, or its step's details).
import { Background, Controls, Handle, MarkerType, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import { useMemo } from "react";
import type { NodeLive } from "../live/state";
import { CONTROL_H, NODE_W, STEP_H, type Diagram, type DiagramNode } from "./diagram";
import "../live/live.css";
import "./diagram.css";

export type DiagramNodeData = { node: DiagramNode; live?: NodeLive; text?: string };

const OP_LABEL: Record<string, string> = { do: "step.do", sleep: "step.sleep", sleepUntil: "step.sleepUntil", waitForEvent: "step.waitForEvent" };
const KIND_LABEL: Record<string, string> = { if: "branch", switch: "switch", loop: "loop", parallel: "parallel", try: "try / catch" };

function StepBox({ data, selected }: NodeProps & { data: DiagramNodeData }) {
  const n = data.node;
  const state = data.live?.state;
  return (
    <div className={`live-node diagram-step${state ? ` state-${state}` : ""}${selected ? " selected" : ""}`} data-state={state ?? ""}
         style={{ width: NODE_W, height: STEP_H }} aria-label={`${n.name}: ${data.text || state || OP_LABEL[n.op!]}`}>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <div className="live-node-title" title={n.name}>{n.name}</div>
      <div className="live-node-type">{OP_LABEL[n.op!]} · line {n.line}</div>
      {state && <div className="live-node-state"><span className="dot" aria-hidden="true" />{data.text || state}</div>}
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

function ControlBox({ data, selected }: NodeProps & { data: DiagramNodeData }) {
  const n = data.node;
  return (
    <div className={`diagram-control diagram-${n.kind}${selected ? " selected" : ""}`} style={{ width: NODE_W, height: CONTROL_H }}
         aria-label={n.kind === "end" ? n.label : `${KIND_LABEL[n.kind]} ${n.label}`} title={n.line ? `line ${n.line}` : undefined}>
      {n.label !== "start" && <Handle type="target" position={Position.Top} isConnectable={false} />}
      {n.kind !== "end" && <span className="diagram-kind">{KIND_LABEL[n.kind]}</span>}
      <code>{n.label}</code>
      {n.label !== "end" && <Handle type="source" position={Position.Bottom} isConnectable={false} />}
    </div>
  );
}

const nodeTypes = { step: StepBox, control: ControlBox };
const ARROW = { type: MarkerType.ArrowClosed, width: 16, height: 16 };

export function DiagramView({ diagram, live, describe, selected, onSelect }: {
  diagram: Diagram; live?: Record<string, NodeLive>; describe?: (l: NodeLive | undefined) => string;
  selected?: string | null; onSelect?: (n: DiagramNode | null) => void;
}) {
  const nodes: Node<DiagramNodeData>[] = useMemo(() => diagram.nodes.map((n) => ({
    id: n.id, type: n.kind === "step" ? "step" : "control", position: { x: n.x, y: n.y }, selected: n.id === selected,
    ariaLabel: n.kind === "step" ? n.name : n.label, width: NODE_W, height: n.kind === "step" ? STEP_H : CONTROL_H,
    data: { node: n, live: live?.[n.id], text: describe?.(live?.[n.id]) },
  })), [diagram, live, describe, selected]);
  const edges: Edge[] = useMemo(() => diagram.edges.map((e) => {
    const ran = live && live[e.target] && !["queued", "skipped"].includes(live[e.target].state);
    return {
      id: e.id, source: e.source, target: e.target, label: e.label, markerEnd: ARROW, type: e.back ? "smoothstep" : "default",
      className: `${e.back ? "diagram-back" : ""}${ran ? " taken" : ""}`,
    };
  }), [diagram, live]);
  return (
    <ReactFlow nodes={nodes} edges={edges} nodeTypes={nodeTypes} nodesDraggable={false} nodesConnectable={false} elementsSelectable
               onNodeClick={(_, n) => onSelect?.((n.data as DiagramNodeData).node)} onPaneClick={() => onSelect?.(null)}
               fitView fitViewOptions={{ maxZoom: 1, minZoom: 0.5 }} minZoom={0.2} proOptions={{ hideAttribution: true }}
               aria-label="Program diagram" className="program-diagram">
      <Background />
      <Controls showInteractive={false} />
    </ReactFlow>
  );
}
