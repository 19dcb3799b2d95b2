import { describe, expect, it } from "vitest";
import { fitTargets, zoomToFit, type Box } from "./layout";

// A chain a -> b -> c -> ... laid out left to right, 200px wide nodes 60px apart.
function chain(n: number): { boxes: Box[]; edges: { source: string; target: string }[] } {
  const ids = Array.from({ length: n }, (_, i) => String.fromCharCode(97 + i));
  return {
    boxes: ids.map((id, i) => ({ id, x: i * 260, y: 0, width: 200, height: 60 })),
    edges: ids.slice(1).map((id, i) => ({ source: ids[i], target: id })),
  };
}

describe("fitting the view", () => {
  it("measures the zoom that fits the boxes inside the padding", () => {
    const { boxes } = chain(3);  // 720 x 60
    expect(zoomToFit(boxes, 768, 800)).toBeCloseTo(1);
    expect(zoomToFit(boxes, 408, 800)).toBeCloseTo(0.5);
  });

  it("fits the whole graph when it stays readable", () => {
    const { boxes, edges } = chain(5);  // 1240 wide: 0.5 in a 668px view
    expect(fitTargets(boxes, edges, 668, 600, 0.45)).toEqual(["a", "b", "c", "d", "e"]);
    expect(fitTargets(boxes, edges, 668, 600)).toEqual(["a", "b", "c"]);  // the default keeps text readable (0.75)
  });

  it("otherwise fits the first nodes from the trigger", () => {
    const { boxes, edges } = chain(10);  // 2540 wide
    // Shuffled, so the order comes from the edges, not from the list.
    const shuffled = [...boxes].reverse();
    expect(fitTargets(shuffled, edges, 668, 600, 0.45)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("follows branches breadth first and keeps at least one node", () => {
    const boxes: Box[] = [
      { id: "start", x: 0, y: 0, width: 200, height: 60 },
      { id: "yes", x: 260, y: -100, width: 200, height: 60 },
      { id: "no", x: 260, y: 100, width: 200, height: 60 },
      { id: "far", x: 5000, y: 0, width: 200, height: 60 },
    ];
    const edges = [{ source: "start", target: "yes" }, { source: "start", target: "no" }, { source: "no", target: "far" }];
    expect(fitTargets(boxes, edges, 668, 600, 0.45)).toEqual(["start", "yes", "no"]);
    expect(fitTargets(boxes, edges, 100, 100)).toEqual(["start"]);
  });
});

describe("auto-layout", () => {
  const n = (id: string) => ({ id, position: { x: 0, y: 0 }, data: {}, measured: { width: 180, height: 60 } });

  it("keeps room right of a node for its output labels", async () => {
    const { layout } = await import("./layout");
    const plain = await layout([n("a"), n("b")], [{ id: "e", source: "a", target: "b" }]);
    const named = await layout([n("a"), n("b")], [{ id: "e", source: "a", target: "b", sourceHandle: "true" }]);
    const gap = (ns: typeof plain) => ns[1].position.x - (ns[0].position.x + 180);
    expect(gap(named) - gap(plain)).toBeGreaterThanOrEqual(40);
    expect(gap(plain)).toBeGreaterThanOrEqual(60);  // room for an arrowhead
  });

  it("keeps handle order: a branch's true target above its false one, whatever the list order", async () => {
    const { layout } = await import("./layout");
    const handles = (x: { id: string }) => (x.id === "if" ? ["true", "false"] : [null]);
    for (const order of [["yes", "no"], ["no", "yes"]]) {
      const nodes = [n("start"), n("if"), ...order.map(n), n("join")];
      const edges = [
        { id: "1", source: "start", target: "if" },
        ...order.map((t) => ({ id: t, source: "if", sourceHandle: t === "yes" ? "true" : "false", target: t })),
        { id: "4", source: "no", target: "join" }, { id: "5", source: "yes", target: "join" },
      ];
      const laid = await layout(nodes, edges, handles);
      const y = (id: string) => laid.find((x) => x.id === id)!.position.y;
      const x = (id: string) => laid.find((x) => x.id === id)!.position.x;
      expect(y("yes")).toBeLessThan(y("no"));
      expect(Math.abs(y("yes") - y("no"))).toBeGreaterThanOrEqual(60 + 30);  // never packed: at least a node and a gap apart
      expect(x("start")).toBeLessThan(x("if"));
      expect(x("if")).toBeLessThan(x("yes"));
      expect(x("yes")).toBeLessThan(x("join"));
    }
  });

  it("keeps switch cases in their order", async () => {
    const { layout } = await import("./layout");
    const cases = ["c", "a", "b", "default"];
    const handles = (x: { id: string }) => (x.id === "sw" ? cases : [null]);
    const nodes = [n("sw"), ...["to_default", "to_b", "to_a", "to_c"].map(n)];
    const edges = cases.map((h) => ({ id: h, source: "sw", sourceHandle: h, target: `to_${h}` }));
    const laid = await layout(nodes, edges, handles);
    const ys = cases.map((h) => laid.find((x) => x.id === `to_${h}`)!.position.y);
    expect([...ys].sort((p, q) => p - q)).toEqual(ys);
  });
});
