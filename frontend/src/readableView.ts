// Opening a canvas readable (layout.ts): the whole graph when it fits at FIT_MIN_ZOOM or more, else
// its first nodes from the trigger at the left of the view. Shared by the editor and the live view.
import type { useReactFlow } from "@xyflow/react";
import { fitTargets, FIT_MIN_ZOOM, FIT_PADDING } from "./layout";

type Flow = ReturnType<typeof useReactFlow>;

/** Sets `flow`'s viewport for a canvas of `box`'s size on screen; false when there is nothing to show. */
export function openReadable(flow: Flow, box: { width: number; height: number }): boolean {
  const ns = flow.getNodes();
  if (!ns.length) return false;
  const boxes = ns.map((n) => ({ id: n.id, x: n.position.x, y: n.position.y, width: n.measured?.width ?? 180, height: n.measured?.height ?? 70 }));
  const ids = fitTargets(boxes, flow.getEdges(), box.width, box.height);
  if (ids.length === ns.length) {
    flow.fitView({ nodes: ids.map((id) => ({ id })), maxZoom: 1, minZoom: FIT_MIN_ZOOM, padding: `${FIT_PADDING}px` });
    return true;
  }
  // Scrolled to the start: the first nodes at the left edge, at the zoom that fits them.
  const shown = boxes.filter((b) => ids.includes(b.id));
  const left = Math.min(...shown.map((b) => b.x)), top = Math.min(...shown.map((b) => b.y));
  const bottom = Math.max(...shown.map((b) => b.y + b.height)), right = Math.max(...shown.map((b) => b.x + b.width));
  const zoom = Math.max(FIT_MIN_ZOOM, Math.min(1, (box.width - 2 * FIT_PADDING) / (right - left), (box.height - 2 * FIT_PADDING) / (bottom - top)));
  flow.setViewport({ x: FIT_PADDING - left * zoom, y: box.height / 2 - ((top + bottom) / 2) * zoom, zoom });
  return true;
}
