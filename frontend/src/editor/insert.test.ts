import { describe, expect, it } from "vitest";
import { insertAfter, insertOnEdge, placeAfter, STEP_X } from "./insert";

const node = (id: string, x: number, y = 0) => ({ id, position: { x, y } });
const same = <T,>(e: T) => e;

describe("inserting after a handle", () => {
  it("connects the new node to the handle, one step right", () => {
    const { nodes, edges } = insertAfter([node("a", 0)], [], node("b", 0), "a", null, [null], same);
    expect(nodes.find((n) => n.id === "b")!.position).toEqual({ x: STEP_X, y: 0 });
    expect(edges).toEqual([{ id: "e_a_out_b", source: "a", target: "b", sourceHandle: null }]);
  });

  it("fans out by handle: true above false, and never onto another node", () => {
    const after = (handle: string, nodes = [node("if", 0)]) =>
      insertAfter(nodes, [], node("n", 0), "if", handle, ["true", "false"], same).nodes.find((n) => n.id === "n")!.position;
    expect(after("true").y).toBeLessThan(after("false").y);
    const occupied = [node("if", 0), node("x", STEP_X, after("true").y)];
    expect(after("true", occupied).y).not.toBe(after("true").y);
  });
});

describe("inserting on an edge", () => {
  const edges = [{ id: "e1", source: "a", target: "b", sourceHandle: "true" }, { id: "e2", source: "b", target: "c" }];

  it("puts the node between the edge's ends, keeping the source handle", () => {
    const { nodes, edges: out } = insertOnEdge([node("a", 0), node("b", 1000), node("c", 1300)], edges, node("n", 0), "e1", null, same);
    expect(out.map((e) => [e.source, e.sourceHandle ?? null, e.target])).toEqual([["b", null, "c"], ["a", "true", "n"], ["n", null, "b"]]);
    expect(nodes.find((n) => n.id === "n")!.position).toEqual({ x: 500, y: 0 });
    expect(nodes.find((n) => n.id === "b")!.position.x).toBe(1000);  // room enough: nothing moves
  });

  it("moves the target and what follows it right when the ends are too close, never what is upstream", () => {
    const { nodes } = insertOnEdge([node("a", 0), node("b", 300), node("c", 600), node("side", 0, 400)],
                                   [...edges, { id: "e3", source: "side", target: "c" }], node("n", 0), "e1", "out", same);
    const x = (id: string) => nodes.find((n) => n.id === id)!.position.x;
    expect(x("n")).toBe(STEP_X);
    expect(x("b")).toBe(2 * STEP_X);
    expect(x("c") - x("b")).toBe(300);  // downstream moved with it
    expect([x("a"), x("side")]).toEqual([0, 0]);
  });

  it("uses the drop point when there is room", () => {
    const { nodes } = insertOnEdge([node("a", 0), node("b", 1000)], edges.slice(0, 1), node("n", 0), "e1", null, same, { x: 420, y: 30 });
    expect(nodes.find((n) => n.id === "n")!.position).toEqual({ x: 420, y: 30 });
  });
});
