// A code-first instance's state on its program's diagram: each step node with the step records
// that belong to it (diagram.assignSteps), in the live view's terms (NodeLive), so the diagram's
// nodes show queued, running, retrying, sleeping, waiting, succeeded, failed as a drawn graph's do.
// Pure; unit-tested in programOverlay.test.ts.
import { assignSteps, type Diagram, type DiagramNode } from "../code/diagram";
import { combine, FINISHED, type LiveState, type NodeLive } from "./state";

export function overlay(diagram: Diagram, state: LiveState): Record<string, NodeLive> {
  const byKey = new Map(state.steps.map((s) => [s.key, s]));
  const assigned = assignSteps(diagram.nodes, state.steps.map((s) => ({ key: s.key, name: s.name })));
  const finished = FINISHED.includes(state.status);
  const out: Record<string, NodeLive> = {};
  for (const n of diagram.nodes) {
    if (n.kind !== "step") continue;
    const steps = (assigned[n.id] ?? []).map((k) => byKey.get(k)).filter((s) => s !== undefined);
    if (!steps.length) {
      // Not reached: still ahead while the instance runs, skipped (a branch not taken) once it ended.
      out[n.id] = { state: finished ? "skipped" : "queued", steps: [] };
      continue;
    }
    const starts = steps.map((s) => s.startedAt).filter((t) => !Number.isNaN(t));
    out[n.id] = {
      state: combine(steps), steps, startedAt: starts.length ? Math.min(...starts) : undefined,
      finishedAt: steps.every((s) => s.finishedAt !== undefined) ? Math.max(...steps.map((s) => s.finishedAt!)) : undefined,
    };
  }
  return out;
}

/** The diagram node a step record belongs to (a timeline click selects it). */
export function nodeForStep(diagram: Diagram, live: Record<string, NodeLive>, stepName: string): DiagramNode | undefined {
  return diagram.nodes.find((n) => live[n.id]?.steps.some((s) => s.name === stepName));
}
