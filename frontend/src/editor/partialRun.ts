// Partial test runs of the draft, as the editor asks the server for them (POST .../draft/instances
// with `seeds` and `stop_after`; the engine seeds those steps' results and stops after the node:
// engine/seeding.py). Pure: unit-tested in partialRun.test.ts.
// - Test this node: every node upstream of it that can take given data takes its pinned data (the
//   server applies the draft's pins itself) or else its output in the last run; the others run
//   again (the trigger gives the test payload); the node itself always runs, then the run stops.
// - Run up to here: everything upstream runs except pinned nodes, then the node, then it stops.
import type { CatalogEntry } from "../api/client";
import { upstream } from "../graph";
import type { NodeRun } from "./lastRun";

export type Source = "pinned" | "last run" | "runs" | "test payload";
export type PartialRun = { stop_after: string; seeds: Record<string, unknown>; plan: { node: string; source: Source }[] };
type Node = { id: string; spec?: CatalogEntry };
type Edge = { source: string; target: string; sourceHandle?: string | null };

/** Nodes inside a loop's body: they run once per item under other step names, so they take no given data. */
export function loopBodies(nodes: Node[], edges: Edge[]): Set<string> {
  const inside = new Set<string>();
  for (const loop of nodes.filter((n) => n.spec?.body_handle)) {
    const queue = edges.filter((e) => e.source === loop.id && e.sourceHandle === loop.spec!.body_handle).map((e) => e.target);
    while (queue.length) {
      const n = queue.shift()!;
      if (n === loop.id || inside.has(n)) continue;
      inside.add(n);
      queue.push(...edges.filter((e) => e.source === n).map((e) => e.target));
    }
  }
  return inside;
}

/** Whether a test run can stop after this node, and its output be pinned: a step that can be seeded, outside loops. */
export function testable(node: Node | undefined, bodies: Set<string>): boolean {
  return Boolean(node?.spec && node.spec.step && !node.spec.trigger && node.spec.seed_kind && !bodies.has(node.id));
}

/** Test one node with its upstream nodes' pinned data or their output in the last run. */
export function testNodeRun(target: string, nodes: Node[], edges: Edge[], pins: Record<string, unknown>,
                            last: Map<string, NodeRun>): PartialRun {
  return plan(target, nodes, edges, pins, (id) => {
    const ran = last.get(id);
    return ran?.status === "complete" && ran.runs === 1 ? { output: ran.output } : null;
  });
}

/** Run from the trigger up to `target` (pinned nodes excepted), stopping after it. */
export function upToHereRun(target: string, nodes: Node[], edges: Edge[], pins: Record<string, unknown>): PartialRun {
  return plan(target, nodes, edges, pins, () => null);
}

function plan(target: string, nodes: Node[], edges: Edge[], pins: Record<string, unknown>,
              earlier: (id: string) => { output: unknown } | null): PartialRun {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const bodies = loopBodies(nodes, edges);
  const seeds: Record<string, unknown> = {};
  const steps: PartialRun["plan"] = [];
  for (const id of upstream(target, edges).reverse()) {  // from the trigger's side to the node's
    const node = byId.get(id);
    if (node?.spec?.trigger) { steps.push({ node: id, source: "test payload" }); continue; }
    if (!testable(node, bodies)) { steps.push({ node: id, source: "runs" }); continue; }
    if (id in pins) { steps.push({ node: id, source: "pinned" }); continue; }
    const before = earlier(id);
    if (before) seeds[id] = before.output;
    steps.push({ node: id, source: before ? "last run" : "runs" });
  }
  return { stop_after: target, seeds, plan: steps };
}
