// The workflow document and its projection onto the canvas.
//
// Invariant: the graph (React Flow's own JSON, as the server stores it) is the source of truth; the
// canvas adds only view state (selection, measured size, problems, diff marks) and toGraph drops it
// again, so toGraph(toCanvas(g)) === g for every graph the server accepts (positions rounded).
// Pure functions only: no React, no fetch; unit-tested in graph.test.ts.
import type { Connection, Edge, Node } from "@xyflow/react";
import type { CatalogEntry } from "./api/client";

export type GraphNode = { id: string; type: string; position: { x: number; y: number }; data: Record<string, unknown> };
export type GraphEdge = { id: string; source: string; target: string; sourceHandle?: string | null };
export type Graph = { nodes: GraphNode[]; edges: GraphEdge[] };

export type DiffMark = "added" | "removed" | "changed";
export type StepData = {
  type: string; config: Record<string, unknown>; spec?: CatalogEntry; problems?: string[]; diff?: DiffMark;
  readOnly?: boolean; missing?: string[];  // tenant secrets it reads that are not set
  pinned?: boolean;  // test runs use its pinned data instead of running it
};
export type CanvasNode = Node<StepData>;
export type Catalog = Record<string, CatalogEntry>;

/** React Flow node type for a graph node type: its own component when the catalog knows it. */
export function canvasType(type: string, catalog: Catalog): string {
  return catalog[type] ? type : "unknown";
}

export function toCanvas(graph: Graph, catalog: Catalog): { nodes: CanvasNode[]; edges: Edge[] } {
  return {
    nodes: graph.nodes.map((n) => ({
      id: n.id, type: canvasType(n.type, catalog), position: { ...n.position },
      data: { type: n.type, config: n.data ?? {}, spec: catalog[n.type] }, ariaLabel: n.id,
    })),
    edges: graph.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? null })),
  };
}

export function toGraph(nodes: CanvasNode[], edges: Edge[]): Graph {
  return {
    nodes: nodes.map((n) => ({
      id: n.id, type: n.data.type, position: { x: Math.round(n.position.x), y: Math.round(n.position.y) }, data: n.data.config,
    })),
    edges: edges.map((e) => ({ id: e.id, source: e.source, target: e.target, ...(e.sourceHandle ? { sourceHandle: e.sourceHandle } : {}) })),
  };
}

/** Ids of every node with a path to `id` (its upstream nodes), nearest first. */
export function upstream(id: string, edges: { source: string; target: string }[]): string[] {
  const into = new Map<string, string[]>();
  for (const e of edges) into.set(e.target, [...(into.get(e.target) ?? []), e.source]);
  const seen: string[] = [];
  const queue = [...(into.get(id) ?? [])];
  while (queue.length) {
    const n = queue.shift()!;
    if (n === id || seen.includes(n)) continue;
    seen.push(n);
    queue.push(...(into.get(n) ?? []));
  }
  return seen;
}

/** A fresh node id for a type: type_1, type_2, ... (ids are step names, so they stay readable). */
export function freshId(type: string, taken: Set<string>): string {
  let n = 1;
  while (taken.has(`${type}_${n}`)) n++;
  return `${type}_${n}`;
}

export function edgeId(source: string, handle: string | null | undefined, target: string): string {
  return `e_${source}_${handle ?? "out"}_${target}`;
}

/** The output handles of a node: fixed by its type, or one per switch case plus "default". */
export function outputHandles(spec: CatalogEntry | undefined, config: Record<string, unknown>): (string | null)[] {
  if (!spec) return [null];
  if (spec.dynamic_handles) {
    const cases = (config.cases as { id?: string }[] | undefined) ?? [];
    return [...cases.map((c) => c.id ?? ""), "default"];
  }
  return spec.handles && spec.handles.length ? spec.handles : [null];
}

/**
 * Why a connection being dragged is refused, or null when it is allowed. Mirrors the server's
 * validation (builder/validation.py) for what can be known while dragging: nothing into a trigger,
 * no self-loops or cycles, no duplicate edge, an existing output handle, and one input per node
 * except merge (branches are joined with a merge node).
 */
export function connectionProblem(c: Connection | Edge, nodes: { id: string; data: StepData }[], edges: GraphEdge[] | Edge[]): string | null {
  const source = nodes.find((n) => n.id === c.source);
  const target = nodes.find((n) => n.id === c.target);
  if (!source || !target) return "both ends must be nodes";
  if (c.source === c.target) return "a node cannot connect to itself (use a loop node)";
  if (target.data.spec?.trigger) return "nothing can connect into a trigger";
  const handle = c.sourceHandle ?? null;
  const handles = outputHandles(source.data.spec, source.data.config);
  if (!handles.includes(handle) && !(handles.length === 1 && handles[0] === null)) return `${c.source} has no output ${handle}`;
  if (edges.some((e) => e.source === c.source && (e.sourceHandle ?? null) === handle && e.target === c.target)) return "these nodes are already connected";
  if (upstream(c.source, edges).includes(c.target)) return "that would make a cycle (repeat work with a loop node)";
  if (target.data.type !== "merge" && edges.some((e) => e.target === c.target && !(e.source === c.source && (e.sourceHandle ?? null) === handle))) {
    return "this node already has an input: join branches with a merge node";
  }
  return null;
}

export type VersionDiff = { added: string[]; removed: string[]; changed: string[] };  // of the API's VersionDiffOut

/**
 * Two versions on one canvas: the newer graph with its added and changed nodes marked, plus the
 * older graph's removed nodes (at their old positions) and edges, marked removed. Read-only.
 */
export function diffCanvas(older: Graph, newer: Graph, diff: VersionDiff, catalog: Catalog): { nodes: CanvasNode[]; edges: Edge[] } {
  const now = toCanvas(newer, catalog);
  const before = toCanvas(older, catalog);
  const mark = (id: string): DiffMark | undefined =>
    diff.added.includes(id) ? "added" : diff.changed.includes(id) ? "changed" : undefined;
  const key = (e: Edge) => `${e.source}|${e.sourceHandle ?? ""}|${e.target}`;
  const oldKeys = new Set(before.edges.map(key));
  const newKeys = new Set(now.edges.map(key));
  return {
    nodes: [
      ...now.nodes.map((n) => ({ ...n, data: { ...n.data, diff: mark(n.id), readOnly: true } })),
      ...before.nodes.filter((n) => diff.removed.includes(n.id)).map((n) => ({ ...n, data: { ...n.data, diff: "removed" as const, readOnly: true } })),
    ],
    edges: [
      ...now.edges.map((e) => (oldKeys.has(key(e)) ? e : { ...e, className: "diff-added" })),
      ...before.edges.filter((e) => !newKeys.has(key(e))).map((e) => ({ ...e, id: `removed:${e.id}`, className: "diff-removed" })),
    ],
  };
}

/** What a graph means, without its layout: equal keys compile to the same program. */
export function semanticKey(graph: Graph): string {
  const nodes = [...graph.nodes].sort((a, b) => a.id.localeCompare(b.id)).map((n) => [n.id, n.type, n.data ?? {}]);
  const edges = graph.edges.map((e) => [e.source, e.sourceHandle ?? "", e.target]).sort((a, b) => a.join("\u0000").localeCompare(b.join("\u0000")));
  return JSON.stringify([nodes, edges]);
}
