// Auto-layout: left-to-right layers with dagre (positions only; the graph itself is unchanged).
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";

export function layout<T extends Record<string, unknown>>(nodes: Node<T>[], edges: Edge[]): Node<T>[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.measured?.width ?? 180, height: n.measured?.height ?? 70 });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return nodes.map((n) => {
    const p = g.node(n.id);
    return { ...n, position: { x: p.x - (p.width ?? 180) / 2, y: p.y - (p.height ?? 70) / 2 } };
  });
}
