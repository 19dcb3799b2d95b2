// Field-level changes of one node between two versions: which config fields (and inputs) changed,
// with both values. Pure: unit-tested in fieldDiff.test.ts; shown on the diff canvas and its panel.
import type { Graph } from "../graph";

export type FieldChange = { field: string; before: unknown; after: unknown };

/** JSON with object keys sorted, so that key order is not a change. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_, v) => (v && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])) : v)) ?? "undefined";
}

/** The fields of node `id` that differ from `older` to `newer` (its type, each config field, its inputs). */
export function fieldChanges(older: Graph, newer: Graph, id: string): FieldChange[] {
  const a = older.nodes.find((n) => n.id === id), b = newer.nodes.find((n) => n.id === id);
  if (!a || !b) return [];
  const changes: FieldChange[] = [];
  if (a.type !== b.type) changes.push({ field: "type", before: a.type, after: b.type });
  const fields = [...new Set([...Object.keys(a.data ?? {}), ...Object.keys(b.data ?? {})])].sort();
  for (const f of fields) {
    const before = (a.data ?? {})[f], after = (b.data ?? {})[f];
    if (stable(before) !== stable(after)) changes.push({ field: f, before, after });
  }
  const inputs = (g: Graph) => g.edges.filter((e) => e.target === id).map((e) => `${e.source}${e.sourceHandle ? `.${e.sourceHandle}` : ""}`).sort();
  if (inputs(older).join() !== inputs(newer).join()) changes.push({ field: "inputs", before: inputs(older), after: inputs(newer) });
  return changes;
}

/** A value as one short line for the diff list. */
export function shown(value: unknown): string {
  if (value === undefined) return "(not set)";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
