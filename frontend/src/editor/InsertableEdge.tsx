// An edge with an arrowhead and a "+" at its middle that opens the node picker to insert a node
// between its ends (n8n's "add node on connection").
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from "@xyflow/react";
import { useContext } from "react";
import { EditorContext } from "./context";

export function InsertableEdge({ id, source, target, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition,
                                 markerEnd, style, interactionWidth, data }: EdgeProps) {
  const items = (data as { items?: string } | undefined)?.items;
  const actions = useContext(EditorContext);
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} interactionWidth={interactionWidth} />
      {items && (
        <EdgeLabelRenderer>
          {/* What the source node produced in the last run, just after the source. */}
          <span className="edge-items" aria-label={`${items} from ${source} to ${target} in the last run`}
                style={{ transform: `translate(0, -100%) translate(${sourceX + 8}px, ${sourceY - 2}px)` }}>{items}</span>
        </EdgeLabelRenderer>
      )}
      {actions && (
        <EdgeLabelRenderer>
          <button className="edge-plus nodrag nopan" style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
                  aria-label={`Insert a node between ${source} and ${target}`} title="Insert a node here"
                  onClick={(e) => actions.pick({ edge: id }, { x: e.clientX, y: e.clientY })}>+</button>
        </EdgeLabelRenderer>
      )}
    </>
  );
}
