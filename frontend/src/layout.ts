// Auto-layout: left-to-right layers computed by ELK's layered algorithm (elkjs), with each node's
// output handles as ports in a fixed order, so a branch's "true" target stays above its "false"
// one (and approved above rejected, switch cases in order) and their edges do not cross.
// Positions only: the graph itself is unchanged. ELK is loaded on first use (it is ~1.4 MB).
import type { Edge, Node } from "@xyflow/react";

// Named outputs (true/false, approved/rejected, switch cases) have their labels to the right of the
// node: room is kept for them so they never sit on the next node.
const HANDLE_LABEL_ROOM = 44;
const BETWEEN_LAYERS = 90;  // edge with an arrowhead, readable at 0.75
const BETWEEN_NODES = 40;

type Handles<T extends Record<string, unknown>> = (n: Node<T>) => (string | null)[];

export async function layout<T extends Record<string, unknown>>(nodes: Node<T>[], edges: Edge[], handlesOf?: Handles<T>): Promise<Node<T>[]> {
  const { default: ELK } = await import("elkjs/lib/elk.bundled.js");
  const labelled = new Set(edges.filter((e) => e.sourceHandle).map((e) => e.source));
  const width = (n: Node<T>) => (n.measured?.width ?? 180) + (labelled.has(n.id) ? HANDLE_LABEL_ROOM : 0);
  const height = (n: Node<T>) => n.measured?.height ?? 70;
  const handles = (n: Node<T>): (string | null)[] => {
    const declared = handlesOf?.(n) ?? [];
    const used = edges.filter((e) => e.source === n.id).map((e) => e.sourceHandle ?? null);
    return [...new Set([...declared, ...used])];
  };
  const port = (id: string, handle: string | null) => `${id}\u0000${handle ?? ""}`;
  const graph = {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered", "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": String(BETWEEN_LAYERS), "elk.spacing.nodeNode": String(BETWEEN_NODES),
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES", "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
    },
    children: nodes.map((n) => {
      const outs = handles(n);
      return {
        id: n.id, width: width(n), height: height(n),
        layoutOptions: { "elk.portConstraints": "FIXED_ORDER" },
        ports: [
          { id: port(n.id, "\u0001in"), layoutOptions: { "elk.port.side": "WEST" } },
          // Clockwise order: on the east side, top to bottom, as the node draws its handles.
          ...outs.map((h, i) => ({ id: port(n.id, h), layoutOptions: { "elk.port.side": "EAST", "elk.port.index": String(i) },
                                   y: ((i + 1) * height(n)) / (outs.length + 1), x: width(n) })),
        ],
      };
    }),
    edges: edges.filter((e) => nodes.some((n) => n.id === e.source) && nodes.some((n) => n.id === e.target))
      .map((e) => ({ id: e.id, sources: [port(e.source, e.sourceHandle ?? null)], targets: [port(e.target, "\u0001in")] })),
  };
  const done = await new ELK().layout(graph);
  const at = new Map((done.children ?? []).map((c) => [c.id, { x: c.x ?? 0, y: c.y ?? 0 }]));
  return nodes.map((n) => ({ ...n, position: at.get(n.id) ?? n.position }));
}

// Opening the view: readable first. The graph is fitted only while its text stays readable (0.75:
// node names about 10 px at 1280x800); a longer graph opens on its first nodes from the trigger, at
// the left of the view, and the minimap, panning and the Fit view control (which fits everything) give the rest.
export const FIT_MIN_ZOOM = 0.75;
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
