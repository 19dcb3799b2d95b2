import { describe, expect, it } from "vitest";
import { assignSteps, diagramOf, layoutItems, readProgram, type Item } from "./diagram";

const PROGRAM = `import { NonRetryableError } from "cloudflare:workflows";

export default async function run(event, s) {
  const order = await s.do("fetch_order", { retries: { limit: 3 } }, async () => {
    await s.do("not a step: inside a callback", async () => 1);
    return { total: 120 };
  });
  if (order.total > 100) {
    await s.waitForEvent("approval", { type: "approve", timeout: "2 days" });
  } else {
    console.log("small");
  }
  if (order.total > 1000) console.log("no steps here");
  switch (event.payload.kind) {
    case "gift": await s.do("wrap", async () => 1); break;
    case "plain": break;
  }
  for (const item of event.payload.items) {
    await s.do(\`ship-\${item.id}\`, async () => item);
  }
  await Promise.all([s.do("email", async () => 1), s.sleep("cool_off", "1 day")]);
  await Promise.all(event.payload.items.map((item) => s.do(\`audit-\${item.id}\`, async () => 1)));
  try {
    await s.do("charge", async () => 1);
  } catch (e) {
    await s.do("refund", async () => 1);
  }
  await s.sleepUntil("tomorrow", new Date(Date.now() + 86400000));
  return { ok: true };
}
`;

const shape = (items: Item[]): unknown[] => items.map((it) => {
  switch (it.kind) {
    case "step": return `${it.op}:${it.name}@${it.line}`;
    case "loop": return { loop: it.label, body: shape(it.body) };
    case "try": return { try: shape(it.body), catch: it.handler && shape(it.handler), finally: shape(it.finalizer) };
    default: return { [it.kind]: it.label, branches: it.branches.map((b) => [b.label, shape(b.items)]) };
  }
});

describe("readProgram", () => {
  it("finds steps, branches, loops, parallel groups and try/catch, with their lines", () => {
    const parsed = readProgram(PROGRAM);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.stepParam).toBe("s");
    expect(shape(parsed.items)).toEqual([
      "do:fetch_order@4",
      { if: "if (order.total > 100)", branches: [["true", ["waitForEvent:approval@9"]], ["false", []]] },
      { switch: "switch (event.payload.kind)", branches: [["case \"gift\"", ["do:wrap@15"]], ["case \"plain\"", []], ["default", []]] },
      { loop: "for (const item of event.payload.items)", body: ["do:ship-${item.id}@19"] },
      { parallel: "Promise.all", branches: [["1", ["do:email@21"]], ["2", ["sleep:cool_off@21"]]] },
      { parallel: "Promise.all", branches: [["each", ["do:audit-${item.id}@22"]]] },
      { try: ["do:charge@24"], catch: ["do:refund@26"], finally: [] },
      "sleepUntil:tomorrow@28",
    ]);
    const ship = (parsed.items[3] as Extract<Item, { kind: "loop" }>).body[0] as Extract<Item, { kind: "step" }>;
    expect(new RegExp(ship.pattern!).test("ship-42")).toBe(true);
    expect(new RegExp(ship.pattern!).test("wrap")).toBe(false);
  });

  it("says where a program does not parse, and when it has no run", () => {
    expect(readProgram("export default async function run(event, step) {\n  await step.do(\"a\", async () => {\n}")).toMatchObject({ ok: false, line: 3 });
    expect(readProgram("const x = 1;")).toMatchObject({ ok: false, message: expect.stringContaining("export default") });
  });

  it("reads an arrow function default export and a ternary over steps", () => {
    const parsed = readProgram("export default async (event, step) => event.payload.x ? step.do(\"a\", () => 1) : step.sleep(\"b\", 10);");
    expect(parsed.ok && shape(parsed.items)).toEqual([{ if: "event.payload.x ?", branches: [["true", ["do:a@1"]], ["false", ["sleep:b@1"]]] }]);
  });
});

describe("layoutItems", () => {
  it("links a branch's arms to what follows, loops back, and never overlaps nodes", () => {
    const { diagram } = diagramOf(PROGRAM);
    const d = diagram!;
    const byLabel = (l: string) => d.nodes.find((n) => n.label === l)!;
    const edge = (a: string, b: string) => d.edges.find((e) => e.source === byLabel(a).id && e.target === byLabel(b).id);
    expect(edge("start", "fetch_order")).toBeTruthy();
    expect(edge("fetch_order", "if (order.total > 100)")).toBeTruthy();
    expect(edge("if (order.total > 100)", "approval")?.label).toBe("true");
    // The empty else goes straight on, as does the arm that waited.
    expect(edge("if (order.total > 100)", "switch (event.payload.kind)")?.label).toBe("false");
    expect(edge("approval", "switch (event.payload.kind)")).toBeTruthy();
    const loop = byLabel("for (const item of event.payload.items)");
    expect(d.edges.find((e) => e.source === byLabel("ship-${item.id}").id && e.target === loop.id)?.back).toBe(true);
    expect(d.edges.find((e) => e.source === loop.id && e.label === "done")?.target).toBe(byLabel("Promise.all").id);
    expect(edge("refund", "tomorrow")).toBeTruthy();
    expect(edge("charge", "tomorrow")).toBeTruthy();
    expect(edge("tomorrow", "end")).toBeTruthy();
    // No two nodes overlap (220 x 64 boxes).
    for (const a of d.nodes) for (const b of d.nodes) {
      if (a !== b) expect(Math.abs(a.x - b.x) >= 220 || Math.abs(a.y - b.y) >= 40).toBe(true);
    }
  });

  it("draws a program without steps as start to end", () => {
    const d = layoutItems([]);
    expect(d.nodes.map((n) => n.label)).toEqual(["start", "end"]);
    expect(d.edges).toHaveLength(1);
  });
});

describe("assignSteps", () => {
  it("gives the n-th occurrence of a name to its n-th node, and templated names to their pattern", () => {
    const { diagram } = diagramOf(`export default async function run(event, step) {
      await step.do("poll", () => 1);
      await step.sleep("wait", 10);
      await step.do("poll", () => 2);
      for (const i of [1, 2]) await step.do(\`item-\${i}\`, () => i);
    }`);
    const steps = diagram!.nodes.filter((n) => n.kind === "step");
    const got = assignSteps(diagram!.nodes, [
      { key: "poll", name: "poll" }, { key: "wait", name: "wait" }, { key: "poll (2)", name: "poll" },
      { key: "item-1", name: "item-1" }, { key: "item-2", name: "item-2" }, { key: "other", name: "other" },
    ]);
    expect(steps.map((n) => got[n.id])).toEqual([["poll"], ["wait"], ["poll (2)"], ["item-1", "item-2"]]);
  });
});
