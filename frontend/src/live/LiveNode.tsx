// A node of the live canvas: the graph node's name and type, with its state overlaid.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { ROLLBACK_TEXT, type NodeLive } from "./state";

export type LiveNodeData = {
  type: string; label: string; handles: (string | null)[]; trigger: boolean;
  live?: NodeLive; text: string;
};

export function LiveNode({ id, data, selected }: NodeProps & { data: LiveNodeData }) {
  const state = data.live?.state ?? "queued";
  const rollback = data.live?.rollback;
  return (
    <div className={`live-node state-${state}${rollback ? ` rollback-${rollback}` : ""}${selected ? " selected" : ""}`} data-state={state}
         data-rollback={rollback} aria-label={`${data.label}: ${data.text || state}`}>
      {!data.trigger && <Handle type="target" position={Position.Left} isConnectable={false} />}
      <div className="live-node-title">{data.label}{data.label !== id && <span className="muted"> {id}</span>}</div>
      <div className="live-node-type">{data.type}</div>
      <div className="live-node-state"><span className="dot" aria-hidden="true" />{data.text || state}</div>
      {rollback && <div className="live-node-rollback">↩ {ROLLBACK_TEXT[rollback]}</div>}
      {data.handles.map((h, i) => (
        <Handle key={h ?? "out"} id={h ?? undefined} type="source" position={Position.Right} isConnectable={false}
                style={{ top: `${((i + 1) * 100) / (data.handles.length + 1)}%` }}>
          {h && <span className="handle-label">{h}</span>}
        </Handle>
      ))}
    </div>
  );
}
