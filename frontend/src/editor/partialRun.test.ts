import { describe, expect, it } from "vitest";
import type { CatalogEntry } from "../api/client";
import type { NodeRun } from "./lastRun";
import { loopBodies, testable, testNodeRun, upToHereRun } from "./partialRun";

const spec = (over: Partial<CatalogEntry>) => ({ step: true, trigger: false, seed_kind: "do", ...over }) as CatalogEntry;
const trigger = spec({ trigger: true, step: false, seed_kind: null });
const code = spec({});
const merge = spec({ step: false, seed_kind: null, merges: true });
const loop = spec({ step: false, seed_kind: null, body_handle: "body" });
const sub = spec({ seed_kind: null });
const ran = (output: unknown, runs = 1): NodeRun => ({ status: "complete", output, error: null, runs });

// start -> fetch -> enrich -> total -> notify, and start -> side (a parallel branch, not upstream of total)
const nodes = [{ id: "start", spec: trigger }, { id: "fetch", spec: code }, { id: "enrich", spec: code },
               { id: "total", spec: code }, { id: "notify", spec: code }, { id: "side", spec: code }];
const edges = [{ source: "start", target: "fetch" }, { source: "fetch", target: "enrich" }, { source: "enrich", target: "total" },
               { source: "total", target: "notify" }, { source: "start", target: "side" }];

describe("partial runs: which upstream data a tested node gets", () => {
  it("takes each upstream node's last-run output, stops after the node, and leaves other branches out", () => {
    const last = new Map([["fetch", ran({ price: 2 })], ["enrich", ran({ price: 3 })], ["side", ran("s")], ["total", ran(6)]]);
    const r = testNodeRun("total", nodes, edges, {}, last);
    expect(r.stop_after).toBe("total");
    expect(r.seeds).toEqual({ fetch: { price: 2 }, enrich: { price: 3 } });  // not total itself, not side
    expect(r.plan).toEqual([{ node: "start", source: "test payload" }, { node: "fetch", source: "last run" },
                            { node: "enrich", source: "last run" }]);
  });

  it("prefers pinned data (the server applies pins) and runs what has neither", () => {
    const last = new Map([["fetch", ran({ price: 2 })], ["enrich", { status: "errored", output: null, error: "boom", runs: 1 }]]);
    const r = testNodeRun("total", nodes, edges, { fetch: { price: 100 } }, last);
    expect(r.seeds).toEqual({});  // fetch is pinned: not sent; enrich failed last time: it runs
    expect(r.plan.map((p) => p.source)).toEqual(["test payload", "pinned", "runs"]);
  });

  it("never seeds a loop body's nodes, a merge or a sub-workflow: they run", () => {
    const ns = [{ id: "start", spec: trigger }, { id: "each", spec: loop }, { id: "inner", spec: code }, { id: "after", spec: code },
                { id: "child", spec: sub }, { id: "join", spec: merge }, { id: "end", spec: code }];
    const es = [{ source: "start", target: "each" }, { source: "each", sourceHandle: "body", target: "inner" },
                { source: "each", sourceHandle: "done", target: "after" }, { source: "after", target: "child" },
                { source: "child", target: "join" }, { source: "join", target: "end" }];
    expect([...loopBodies(ns, es)]).toEqual(["inner"]);
    const last = new Map([["inner", ran(1, 3)], ["after", ran("a")], ["child", ran("c")], ["join", ran({})]]);
    const r = testNodeRun("end", ns, es, {}, last);
    expect(r.seeds).toEqual({ after: "a" });
    expect(testable(ns[2], loopBodies(ns, es))).toBe(false);
    expect(testable(ns[3], loopBodies(ns, es))).toBe(true);
    expect(testable(ns[0], loopBodies(ns, es))).toBe(false);
  });

  it("runs everything upstream for 'run up to here', except pinned nodes", () => {
    const r = upToHereRun("total", nodes, edges, { enrich: 5 });
    expect(r).toEqual({ stop_after: "total", seeds: {},
                        plan: [{ node: "start", source: "test payload" }, { node: "fetch", source: "runs" }, { node: "enrich", source: "pinned" }] });
  });
});
