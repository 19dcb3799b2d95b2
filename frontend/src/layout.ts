// Auto-layout: left-to-right layers with dagre (positions only; the graph itself is unchanged).
import dagre from "@dagrejs/dagre";
import type { Edge, Node } from "@xyflow/react";

// Named outputs (true/false, approved/rejected, switch cases) have their labels to the right of the
// node: room is kept for them so they never sit on the next node.
const HANDLE_LABEL_ROOM = 44;

export function layout<T extends Record<string, unknown>>(nodes: Node<T>[], edges: Edge[]): Node<T>[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const labelled = new Set(edges.filter((e) => e.sourceHandle).map((e) => e.source));
  const width = (n: Node<T>) => (n.measured?.width ?? 180) + (labelled.has(n.id) ? HANDLE_LABEL_ROOM : 0);
  for (const n of nodes) g.setNode(n.id, { width: width(n), height: n.measured?.height ?? 70 });
  for (const e of edges) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return nodes.map((n) => {
    const p = g.node(n.id);
    return { ...n, position: { x: p.x - width(n) / 2, y: p.y - (n.measured?.height ?? 70) / 2 } };
  });
}

// Fitting the view: the whole graph when its text stays readable, else its beginning.
// 0.45 is about the smallest zoom at which node names stay legible at 1280x800 (a ten-node
// workflow fits there at about 0.5). A longer graph opens on its first nodes from the trigger,
// and the minimap, panning and the Fit view control (which fits everything) give the rest.
export const FIT_MIN_ZOOM = 0.45;
export const FIT_PADDING = 24;  // pixels on each side

export type Box = { id: string; x: number; y: number; width: number; height: number };

/** The zoom at which `boxes` fill a `width` x `height` view less FIT_PADDING on each side. */
export function zoomToFit(boxes: Box[], width: number, height: number): number {
  if (!boxes.length) return Infinity;
  const left = Math.min(...boxes.map((b) => b.x)), top = Math.min(...boxes.map((b) => b.y));
  const right = Math.max(...boxes.map((b) => b.x + b.width)), bottom = Math.max(...boxes.map((b) => b.y + b.height));
  return Math.min((width - 2 * FIT_PADDING) / Math.max(right - left, 1), (height - 2 * FIT_PADDING) / Math.max(bottom - top, 1));
}

/**
 * The ids of the nodes to fit into a `width` x `height` view: all of them when they fit at
 * `minZoom` or more; otherwise the longest run of nodes, in breadth-first order from the triggers
 * (nodes nothing leads into), that does (at least the first one). Unreached nodes come last.
 */
export function fitTargets(boxes: Box[], edges: { source: string; target: string }[], width: number, height: number,
                           minZoom = FIT_MIN_ZOOM): string[] {
  if (zoomToFit(boxes, width, height) >= minZoom) return boxes.map((b) => b.id);
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const targets = new Set(edges.map((e) => e.target));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (start: string[]) => {
    const queue = start.filter((id) => !seen.has(id));
    queue.forEach((id) => seen.add(id));
    while (queue.length) {
      const id = queue.shift()!;
      order.push(id);
      for (const e of edges) if (e.source === id && byId.has(e.target) && !seen.has(e.target)) { seen.add(e.target); queue.push(e.target); }
    }
  };
  visit(boxes.filter((b) => !targets.has(b.id)).map((b) => b.id));
  visit(boxes.map((b) => b.id));  // nodes only reached through a cycle, or not at all
  let count = 1;
  while (count < order.length && zoomToFit(order.slice(0, count + 1).map((id) => byId.get(id)!), width, height) >= minZoom) count++;
  return order.slice(0, count);
}
