// Inserting a node where the user is: after an output handle ("+" on a handle, a palette click with
// a node selected) or on an edge, between its ends ("+" on an edge, a palette item dropped on it).
// Pure: unit-tested in insert.test.ts. The new node takes the place the user pointed at; when an
// edge's ends are too close for it, the edge's target and everything downstream of it move right,
// so nothing ends up under the new node.
import { edgeId, upstream } from "../graph";

export type Point = { x: number; y: number };
type N = { id: string; position: Point };
type E = { id: string; source: string; target: string; sourceHandle?: string | null };

export const STEP_X = 280;  // a node's width (about 180-220) and room for handle labels and arrowheads
export const STEP_Y = 120;

/** Where the node after `source`'s handle `index` of `count` goes: one step right, fanned out by handle, on free ground. */
export function placeAfter(source: N, index: number, count: number, nodes: N[]): Point {
  const at = { x: source.position.x + STEP_X, y: source.position.y + (index - (count - 1) / 2) * STEP_Y };
  const taken = (p: Point) => nodes.some((n) => Math.abs(n.position.x - p.x) < STEP_X - 40 && Math.abs(n.position.y - p.y) < STEP_Y - 20);
  while (taken(at)) at.y += STEP_Y;
  return at;
}

/** `fresh` connected after `source`'s `handle` (a new parallel branch when that handle already leads somewhere). */
export function insertAfter<Nd extends N, Ed extends E>(nodes: Nd[], edges: Ed[], fresh: Nd, source: string, handle: string | null,
                                                         handles: (string | null)[], makeEdge: (e: E) => Ed): { nodes: Nd[]; edges: Ed[] } {
  const from = nodes.find((n) => n.id === source);
  if (!from) return { nodes, edges };
  const position = placeAfter(from, Math.max(handles.indexOf(handle), 0), handles.length, nodes);
  return {
    nodes: [...nodes, { ...fresh, position }],
    edges: [...edges, makeEdge({ id: edgeId(source, handle, fresh.id), source, target: fresh.id, sourceHandle: handle })],
  };
}

/**
 * `fresh` on edge `edge`: source -> fresh -> target, the edge's source handle kept, the fresh node's
 * first output handle (`out`) leading on. Placed at `at` (a drop point) or halfway; when the ends
 * are closer than two steps, the target and its downstream nodes move right by one step.
 */
export function insertOnEdge<Nd extends N, Ed extends E>(nodes: Nd[], edges: Ed[], fresh: Nd, edge: string, out: string | null,
                                                          makeEdge: (e: E) => Ed, at?: Point): { nodes: Nd[]; edges: Ed[] } {
  const e = edges.find((x) => x.id === edge);
  const s = e && nodes.find((n) => n.id === e.source), t = e && nodes.find((n) => n.id === e.target);
  if (!e || !s || !t) return { nodes, edges };
  const shift = t.position.x - s.position.x < 2 * STEP_X ? s.position.x + 2 * STEP_X - t.position.x : 0;
  // Everything downstream of the target (the target included) moves; nothing upstream of the source does.
  const downstream = new Set([t.id, ...nodes.filter((n) => upstream(n.id, edges).includes(t.id)).map((n) => n.id)]);
  const position = shift ? { x: s.position.x + STEP_X, y: (s.position.y + t.position.y) / 2 }
    : at ?? { x: (s.position.x + t.position.x) / 2, y: (s.position.y + t.position.y) / 2 };
  const handle = e.sourceHandle ?? null;
  return {
    nodes: [...nodes.map((n) => (shift && downstream.has(n.id) ? { ...n, position: { x: n.position.x + shift, y: n.position.y } } : n)),
            { ...fresh, position }],
    edges: [...edges.filter((x) => x.id !== edge),
            makeEdge({ id: edgeId(e.source, handle, fresh.id), source: e.source, target: fresh.id, sourceHandle: handle }),
            makeEdge({ id: edgeId(fresh.id, out, e.target), source: fresh.id, target: e.target, sourceHandle: out })],
  };
}
