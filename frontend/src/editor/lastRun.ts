// The workflow's last run, as the editor shows it: each node's last state and output (from the newest
// instance's step history; node ids are step names, a loop body's steps are `id[index]`), and how
// many items a node's output holds (an array's length, else one), shown on its outgoing edges.
// Pure: unit-tested in lastRun.test.ts.
import type { StepError } from "../live/state";

/** The fields of `GET /instances/{id}` the editor reads (the endpoint answers free-form JSON). */
export type InstanceRun = {
  id: string; status: string; created_at: string; params: unknown;
  steps: { name: string; status: string; output: unknown; error: StepError | string | null; attempts?: number; kind?: string }[];
};
// given: a test run gave the node its data (pinned, or an earlier run's output): it did not run.
export type NodeRun = { status: string; output: unknown; error: StepError | string | null; runs: number; given?: boolean };

/** By node id: its last step's status, output and error, and how many times it ran (loop bodies run per item). */
export function nodeRuns(run: InstanceRun | null): Map<string, NodeRun> {
  const byNode = new Map<string, NodeRun>();
  for (const s of run?.steps ?? []) {
    const id = s.name.replace(/\[\d+\]$/, "");
    const before = byNode.get(id);
    byNode.set(id, { status: s.status, output: s.output, error: s.error, runs: (before?.runs ?? 0) + 1,
                     ...(s.kind === "do" && s.status === "complete" && s.attempts === 0 ? { given: true } : {}) });
  }
  return byNode;
}

/** What node `id` saw in the run: the event, every step's output, and its input (the output of the node
 *  leading into it; a trigger's output is the event's payload). */
export function sampleFor(id: string, run: InstanceRun | null, byNode: Map<string, NodeRun>,
                          edges: { source: string; target: string }[], triggers: Set<string>) {
  if (!run) return null;
  const steps = Object.fromEntries([...byNode].filter(([, r]) => r.status === "complete").map(([k, r]) => [k, r.output]));
  const from = edges.find((e) => e.target === id)?.source;
  const input = from === undefined ? undefined : triggers.has(from) ? run.params : steps[from];
  return { event: { payload: run.params, instanceId: run.id }, steps, input };
}

/** Items in a node's output: an array's length, nothing for a node that produced nothing, else one. */
export function itemCount(run: NodeRun | undefined): number | null {
  if (!run || run.status !== "complete") return null;
  if (run.runs > 1) return run.runs;
  return Array.isArray(run.output) ? run.output.length : run.output === undefined ? 0 : 1;
}

/** The label of an edge out of a node that ran: "1 item", "3 items". */
export function itemsLabel(count: number | null): string | null {
  return count === null ? null : `${count} item${count === 1 ? "" : "s"}`;
}
