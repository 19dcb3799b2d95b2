// The shared body of every canvas node: type icon, name, one-line summary of its config, problems
// and diff marks, and its handles (no input on triggers; one output per handle of its type).
// Each node type has its own component (one file per type in this folder) made with `nodeComponent`.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, useContext, type ComponentType } from "react";
import { EditorContext } from "../editor/context";
import { outputHandles, type CanvasNode, type StepData } from "../graph";

export type Summary = (config: Record<string, unknown>) => string;

/** Text cut to one short line for the canvas (the panel shows all of it). */
export function short(value: unknown, length = 42): string {
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : JSON.stringify(value);
  const line = text.split("\n").map((l) => l.trim()).find(Boolean) ?? "";
  return line.length > length ? `${line.slice(0, length - 1)}…` : line;
}

function NodeBody({ id, data, selected, icon, summary }: NodeProps<CanvasNode> & { icon: string; summary: Summary }) {
  const spec = data.spec;
  const handles = outputHandles(spec, data.config);
  const problems = data.problems ?? [];
  const missing = data.missing ?? [];
  const actions = useContext(EditorContext);
  const text = summary(data.config);
  const classes = ["node", `node-${data.type}`, `group-${spec?.group ?? "unknown"}`, selected ? "selected" : "",
                   problems.length ? "invalid" : "", missing.length ? "missing-secret" : "", data.pinned ? "pinned" : "", data.diff ? `diff-${data.diff}` : ""].filter(Boolean).join(" ");
  return (
    <div className={classes} title={problems.length ? problems.join("\n") : spec?.description}>
      {!spec?.trigger && <Handle type="target" position={Position.Left} isConnectable={!data.readOnly} aria-label={`Input of ${id}`} />}
      <div className="node-title">
        <span className="node-icon" aria-hidden="true">{icon}</span>
        <span className="node-name">{String(data.config.label ?? id)}</span>
        {problems.length > 0 && <span className="node-badge" aria-label={`${problems.length} problem(s)`}>!</span>}
        {missing.length > 0 && <span className="node-badge secret-badge" title={`secret ${missing.join(", ")} is not set`}
                                     aria-label={`secret ${missing.join(", ")} is not set`}>🔑</span>}
        {data.pinned && <span className="node-badge pin-badge" title="pinned test data: test runs use it instead of running this node"
                              aria-label="pinned test data">📌</span>}
        {data.diff && <span className={`diff-tag diff-tag-${data.diff}`}>{data.diff}</span>}
      </div>
      <div className="node-type">{spec?.label ?? `unknown type ${data.type}`}{data.config.label ? ` · ${id}` : ""}</div>
      {text && <div className="node-summary">{text}</div>}
      {handles.map((h, i) => (
        <Handle key={h ?? "out"} id={h ?? undefined} type="source" position={Position.Right} isConnectable={!data.readOnly}
                style={{ top: `${((i + 1) * 100) / (handles.length + 1)}%` }} title={h ?? "output"} aria-label={`Output ${h ?? ""} of ${id}`}>
          {h && <span className="handle-label">{h}</span>}
        </Handle>
      ))}
      {actions && !data.readOnly && handles.map((h, i) => (
        // n8n's "+" on an output: opens the node picker and adds the chosen node connected here.
        <button key={`plus-${h ?? "out"}`} className={`handle-plus nodrag nopan${h ? " labelled" : ""}`}
                style={{ top: `${((i + 1) * 100) / (handles.length + 1)}%` }} title="Add the next node here"
                aria-label={`Add a node after ${h ? `${h} of ` : ""}${id}`}
                onClick={(e) => { e.stopPropagation(); actions.pick({ source: id, handle: h }, { x: e.clientX, y: e.clientY }); }}>+</button>
      ))}
    </div>
  );
}

/** A node type's canvas component: its icon and how it summarizes its config. */
export function nodeComponent(icon: string, summary: Summary): ComponentType<NodeProps<CanvasNode>> {
  const C = (props: NodeProps<CanvasNode>) => <NodeBody {...props} icon={icon} summary={summary} />;
  return memo(C);
}

export type { StepData };
