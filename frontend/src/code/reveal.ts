// "Open this line": a request, from an error's frame (live view) or a diagram node, to show and
// select a line of a code field or program. The code editor whose id is the target takes it when it
// is (or once it becomes) on screen; a request is taken once. Module state, no React: the editor
// that shows the field may mount after the request (the node's panel opens first).
export type Reveal = { target: string; line: number; column?: number };

let pending: Reveal | null = null;
const listeners = new Set<() => void>();

export function requestReveal(r: Reveal) {
  pending = r;
  listeners.forEach((l) => l());
}

export function takeReveal(target: string | undefined): Reveal | null {
  if (!target || pending?.target !== target) return null;
  const r = pending;
  pending = null;
  return r;
}

export function onReveal(listener: () => void): () => void {
  listeners.add(listener);
  return () => { listeners.delete(listener); };
}

/** A frame's place (engine.sourcemap) as the editor path that opens it. */
export type FramePlace = { node?: string; field?: string; line?: number; column?: number; function?: string };
export function placeHref(workflowId: number, where: FramePlace): string | null {
  const q = new URLSearchParams();
  if (where.node) q.set("node", where.node);
  if (where.field) q.set("field", where.field);
  if (where.line) q.set("line", String(where.line));
  if (where.column) q.set("column", String(where.column));
  if (!where.node && !where.line) return null;
  return `/editor/w/${workflowId}?${q.toString()}`;
}

/** Reads an "open this" request from the page's query (?node=&field=&line=&column=). */
export function placeFromQuery(search: string): FramePlace | null {
  const q = new URLSearchParams(search);
  const line = Number(q.get("line")) || undefined;
  const column = Number(q.get("column")) || undefined;
  const node = q.get("node") ?? undefined;
  if (!node && !line) return null;
  return { node, field: q.get("field") ?? undefined, line, column };
}
