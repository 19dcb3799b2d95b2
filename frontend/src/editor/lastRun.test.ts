import { describe, expect, it } from "vitest";
import { itemCount, itemsLabel, nodeRuns, type InstanceRun } from "./lastRun";

const run = (steps: [string, string, unknown][]): InstanceRun => ({
  id: "i", status: "complete", created_at: "", params: null, steps: steps.map(([name, status, output]) => ({ name, status, output, error: null })),
});

describe("the last run on the canvas", () => {
  it("counts the items of each node's output", () => {
    const runs = nodeRuns(run([["fetch", "complete", [1, 2, 3]], ["one", "complete", { a: 1 }], ["bad", "errored", null]]));
    expect(itemsLabel(itemCount(runs.get("fetch")))).toBe("3 items");
    expect(itemsLabel(itemCount(runs.get("one")))).toBe("1 item");
    expect(itemCount(runs.get("bad"))).toBeNull();
    expect(itemCount(runs.get("never"))).toBeNull();
  });

  it("folds a loop body's steps into its node, counting its runs", () => {
    const runs = nodeRuns(run([["body[0]", "complete", 1], ["body[1]", "complete", 2]]));
    expect(runs.get("body")).toEqual({ status: "complete", output: 2, error: null, runs: 2 });
    expect(itemCount(runs.get("body"))).toBe(2);
  });
});

describe("the sample data an expression is previewed with", () => {
  it("gives a node its upstream output as input, the trigger's payload after a trigger", async () => {
    const { sampleFor } = await import("./lastRun");
    const r = { ...run([["fetch", "complete", [1, 2]], ["bad", "errored", null]]), params: { id: 7 } };
    const edges = [{ source: "start", target: "fetch" }, { source: "fetch", target: "count" }];
    const triggers = new Set(["start"]);
    expect(sampleFor("count", r, nodeRuns(r), edges, triggers)).toEqual({ event: { payload: { id: 7 }, instanceId: "i" }, steps: { fetch: [1, 2] }, input: [1, 2] });
    expect(sampleFor("fetch", r, nodeRuns(r), edges, triggers)?.input).toEqual({ id: 7 });
    expect(sampleFor("fetch", null, nodeRuns(null), edges, triggers)).toBeNull();
  });
});
