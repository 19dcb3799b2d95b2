import { describe, expect, it } from "vitest";
import type { CatalogEntry } from "./api/client";
import * as graphModule from "./graph";
import { connectionProblem, diffCanvas, freshId, toCanvas, toGraph, upstream, type Catalog, type Graph } from "./graph";

const entry = (type: string, extra: Partial<CatalogEntry> = {}): CatalogEntry => ({
  type, label: type, group: "steps", description: "", trigger: false, step: true, schema: { properties: {} },
  handles: [], dynamic_handles: false, code_fields: [], ...extra,
});
export const catalog: Catalog = {
  manual: entry("manual", { group: "triggers", trigger: true, step: false }),
  code: entry("code", { code_fields: ["code"] }),
  branch: entry("branch", { group: "control", handles: ["true", "false"] }),
  switch: entry("switch", { group: "control", handles: null, dynamic_handles: true }),
  merge: entry("merge", { group: "control", step: false }),
};

const graph: Graph = {
  nodes: [
    { id: "start", type: "manual", position: { x: 0, y: 0 }, data: {} },
    { id: "check", type: "branch", position: { x: 200, y: 0 }, data: { condition: "{{ input.n > 1 }}" } },
    { id: "big", type: "code", position: { x: 400, y: -50 }, data: { code: "return 1;" } },
    { id: "small", type: "code", position: { x: 400, y: 50 }, data: { code: "return 2;" } },
    { id: "join", type: "merge", position: { x: 600, y: 0 }, data: {} },
  ],
  edges: [
    { id: "e1", source: "start", target: "check" },
    { id: "e2", source: "check", target: "big", sourceHandle: "true" },
    { id: "e3", source: "check", target: "small", sourceHandle: "false" },
    { id: "e4", source: "big", target: "join" },
    { id: "e5", source: "small", target: "join" },
  ],
};

describe("graph <-> canvas", () => {
  it("round-trips a graph exactly", () => {
    const c = toCanvas(graph, catalog);
    expect(toGraph(c.nodes, c.edges)).toEqual(graph);
  });

  it("gives each node its type's component and drops view state on the way back", () => {
    const c = toCanvas(graph, catalog);
    expect(c.nodes.map((n) => n.type)).toEqual(["manual", "branch", "code", "code", "merge"]);
    const viewed = c.nodes.map((n) => ({ ...n, selected: true, measured: { width: 10, height: 10 }, position: { x: n.position.x + 0.4, y: n.position.y },
                                         data: { ...n.data, problems: ["x"], diff: "added" as const } }));
    expect(toGraph(viewed, c.edges)).toEqual(graph);
  });

  it("keeps unknown node types (shown with the unknown component) so they survive a save", () => {
    const odd: Graph = { nodes: [{ id: "x", type: "teleport", position: { x: 1, y: 2 }, data: { a: 1 } }], edges: [] };
    const c = toCanvas(odd, catalog);
    expect(c.nodes[0].type).toBe("unknown");
    expect(toGraph(c.nodes, c.edges)).toEqual(odd);
  });

  it("walks edges backwards for the upstream nodes, nearest first", () => {
    expect(upstream("join", graph.edges)).toEqual(["big", "small", "check", "start"]);
    expect(upstream("start", graph.edges)).toEqual([]);
  });

  it("makes fresh readable ids", () => {
    expect(freshId("code", new Set(["code_1", "code_3"]))).toBe("code_2");
  });
});

describe("connection validation", () => {
  const { nodes, edges } = toCanvas(graph, catalog);
  const nodesPlus = [...nodes, ...toCanvas({ nodes: [{ id: "loose", type: "code", position: { x: 0, y: 0 }, data: {} },
                                                     { id: "sw", type: "switch", position: { x: 0, y: 0 }, data: { cases: [{ id: "a", condition: "1" }] } }], edges: [] }, catalog).nodes];
  const problem = (source: string, target: string, sourceHandle: string | null = null) =>
    connectionProblem({ source, target, sourceHandle, targetHandle: null }, nodesPlus, edges);

  it("allows a plain connection", () => expect(problem("join", "loose")).toBeNull());
  it("refuses anything into a trigger", () => expect(problem("join", "start")).toMatch(/trigger/));
  it("refuses self-loops", () => expect(problem("loose", "loose")).toMatch(/itself/));
  it("refuses cycles", () => expect(problem("join", "check")).toMatch(/cycle/));
  it("refuses a second input except into a merge", () => {
    expect(problem("big", "small")).toMatch(/merge/);
    expect(problem("loose", "join")).toBeNull();
  });
  it("refuses duplicates", () => expect(problem("check", "big", "true")).toMatch(/already/));
  it("knows a branch's handles and a switch's cases", () => {
    expect(problem("check", "loose", "maybe")).toMatch(/no output/);
    expect(problem("sw", "loose", "a")).toBeNull();
    expect(problem("sw", "loose", "default")).toBeNull();
    expect(problem("sw", "loose", "b")).toMatch(/no output/);
  });
});

describe("diff on the canvas", () => {
  it("marks added and changed nodes, and shows removed nodes and edges", () => {
    const newer: Graph = {
      nodes: [...graph.nodes.filter((n) => n.id !== "small").map((n) => (n.id === "big" ? { ...n, data: { code: "return 3;" } } : n)),
              { id: "tail", type: "code", position: { x: 800, y: 0 }, data: {} }],
      edges: [...graph.edges.filter((e) => e.target !== "small" && e.source !== "small"), { id: "e6", source: "join", target: "tail" }],
    };
    const c = diffCanvas(graph, newer, { added: ["tail"], removed: ["small"], changed: ["big"] }, catalog);
    const mark = Object.fromEntries(c.nodes.map((n) => [n.id, n.data.diff]));
    expect(mark).toEqual({ start: undefined, check: undefined, big: "changed", join: undefined, tail: "added", small: "removed" });
    expect(c.nodes.every((n) => n.data.readOnly)).toBe(true);
    expect(c.edges.filter((e) => e.className === "diff-removed").map((e) => e.id).sort()).toEqual(["removed:e3", "removed:e5"]);
    expect(c.edges.filter((e) => e.className === "diff-added").map((e) => e.id)).toEqual(["e6"]);
  });
});

describe("semantic key", () => {
  it("ignores layout and order, not meaning", () => {
    const { semanticKey } = graphModule;
    const moved: Graph = { nodes: [...graph.nodes].reverse().map((n) => ({ ...n, position: { x: 1, y: 1 } })),
                           edges: [...graph.edges].reverse().map((e, i) => ({ ...e, id: `x${i}` })) };
    expect(semanticKey(moved)).toBe(semanticKey(graph));
    const changed: Graph = { ...graph, nodes: graph.nodes.map((n) => (n.id === "big" ? { ...n, data: { code: "return 9;" } } : n)) };
    expect(semanticKey(changed)).not.toBe(semanticKey(graph));
  });
});
