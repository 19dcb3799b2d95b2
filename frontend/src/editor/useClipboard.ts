// Copy/paste of the selected nodes and the edges between them, pasted with fresh ids, 40 px off.
import type { Edge } from "@xyflow/react";
import { useCallback, useRef } from "react";
import { edgeId, freshId, toCanvas, toGraph, type CanvasNode, type Catalog, type Graph } from "../graph";

type Args = {
  catalog: Catalog; current: { current: { nodes: CanvasNode[]; edges: Edge[] } }; checkpoint: () => void;
  setNodes: (f: (ns: CanvasNode[]) => CanvasNode[]) => void; setEdges: (f: (es: Edge[]) => Edge[]) => void;
  edited: () => void; setStatus: (s: string) => void;
};

export function useClipboard({ catalog, current, checkpoint, setNodes, setEdges, edited, setStatus }: Args) {
  const clipboard = useRef<Graph | null>(null);
  const copy = useCallback(() => {
    const { nodes, edges } = current.current;
    const chosen = new Set(nodes.filter((n) => n.selected).map((n) => n.id));
    if (!chosen.size) return;
    const g = toGraph(nodes.filter((n) => chosen.has(n.id)), edges.filter((e) => chosen.has(e.source) && chosen.has(e.target)));
    clipboard.current = g;
    setStatus(`Copied ${g.nodes.length} node(s)`);
  }, [current, setStatus]);
  const paste = useCallback(() => {
    const g = clipboard.current;
    if (!g) return;
    const taken = new Set(current.current.nodes.map((n) => n.id));
    const rename: Record<string, string> = {};
    for (const n of g.nodes) {
      rename[n.id] = freshId(n.type, taken);
      taken.add(rename[n.id]);
    }
    const pasted = toCanvas({
      nodes: g.nodes.map((n) => ({ ...n, id: rename[n.id], position: { x: n.position.x + 40, y: n.position.y + 40 } })),
      edges: g.edges.map((e) => ({ ...e, id: edgeId(rename[e.source], e.sourceHandle, rename[e.target]), source: rename[e.source], target: rename[e.target] })),
    }, catalog);
    checkpoint();
    setNodes((ns) => [...ns.map((n) => ({ ...n, selected: false })), ...pasted.nodes.map((n) => ({ ...n, selected: true }))]);
    setEdges((es) => [...es, ...pasted.edges]);
    edited();
  }, [catalog, checkpoint, current, edited, setEdges, setNodes]);
  return { copy, paste };
}
