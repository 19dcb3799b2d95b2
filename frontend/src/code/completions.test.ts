import { describe, expect, it } from "vitest";
import { completeAt, stepRef } from "./completions";

const labels = (r: ReturnType<typeof completeAt>) => r?.options.map((o) => o.label) ?? null;

describe("completions", () => {
  it("offers upstream node ids after steps.", () => {
    const r = completeAt("return steps.fe", ["fetch", "start"], "code");
    expect(labels(r)).toEqual(["fetch", "start"]);
    expect(r!.from).toBe("return steps.".length);
  });
  it("offers globals and upstream outputs for a word", () => {
    const l = labels(completeAt("const x = in", ["start", "my-node"], "code"));
    expect(l).toEqual(expect.arrayContaining(["input", "event", "steps", "step", "steps.start", 'steps["my-node"]']));
  });
  it("in expression fields, only inside {{ }}", () => {
    expect(completeAt("Hello inp", ["a"], "expression")).toBeNull();
    expect(labels(completeAt("Hello {{ inp", ["a"], "expression"))).toContain("input");
    expect(labels(completeAt("Hello {{ inp", ["a"], "expression"))).not.toContain("step");
    expect(completeAt("{{ a }} b", ["a"], "expression")).toBeNull();
  });
  it("leaves members of other objects alone", () => {
    expect(completeAt("input.to", ["a"], "code")).toBeNull();
  });
  it("writes references the server accepts", () => {
    expect(stepRef("fetch_1")).toBe("steps.fetch_1");
    expect(stepRef("my-node")).toBe('steps["my-node"]');
  });
});
