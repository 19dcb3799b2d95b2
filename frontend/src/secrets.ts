// Which tenant secrets a workflow uses, read from its graph: a node config field whose schema says
// `format: "secret-name"` names one (its schema default when empty), unless the node's `auth` is
// "none" (a webhook trigger without auth reads no secret). Pure: unit-tested in secrets.test.ts.
import type { CatalogEntry } from "./api/client";

type NodeLike = { id: string; type: string; data?: Record<string, unknown> | null };

/** The secret names a node reads, in its schema's field order. */
export function secretRefs(node: NodeLike, spec: CatalogEntry | undefined): string[] {
  const config = node.data ?? {};
  if (!spec || config.auth === "none") return [];
  const props = spec.schema.properties ?? {};
  const names: string[] = [];
  for (const [field, schema] of Object.entries(props)) {
    if (schema.format !== "secret-name") continue;
    const value = typeof config[field] === "string" && config[field] ? String(config[field]) : schema.default;
    if (typeof value === "string" && value) names.push(value);
  }
  return names;
}

/** The secrets a node reads that the tenant has not set (null `known`: not known, nothing is reported). */
export function missingSecrets(node: NodeLike, spec: CatalogEntry | undefined, known: Set<string> | null): string[] {
  return known ? secretRefs(node, spec).filter((n) => !known.has(n)) : [];
}

export type SecretUse = { workflow: string; workflowId: number; node: string };

/** Where each secret is used: by name, the nodes of the workflows' drafts that read it. */
export function secretUses(workflows: { id: number; name: string; draft?: { nodes?: NodeLike[] } | null }[],
                           catalog: Record<string, CatalogEntry>): Map<string, SecretUse[]> {
  const uses = new Map<string, SecretUse[]>();
  for (const w of workflows) {
    for (const n of w.draft?.nodes ?? []) {
      for (const name of secretRefs(n, catalog[n.type])) {
        uses.set(name, [...(uses.get(name) ?? []), { workflow: w.name, workflowId: w.id, node: n.id }]);
      }
    }
  }
  return uses;
}
