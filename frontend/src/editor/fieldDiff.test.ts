import { describe, expect, it } from "vitest";
import { fieldChanges } from "./fieldDiff";
import type { Graph } from "../graph";

const g = (data: Record<string, unknown>, from = "start"): Graph => ({
  nodes: [{ id: "start", type: "manual", position: { x: 0, y: 0 }, data: {} },
          { id: "other", type: "manual", position: { x: 0, y: 0 }, data: {} },
          { id: "call", type: "http", position: { x: 9, y: 9 }, data }],
  edges: [{ id: "e", source: from, target: "call" }],
});

describe("field-level diffs", () => {
  it("names each changed field with both values, ignoring key order and position", () => {
    const older = g({ url: "https://a", headers: { a: "1", b: "2" }, method: "GET" });
    const newer = g({ headers: { b: "2", a: "1" }, url: "https://b", retries: { limit: 3 } });
    expect(fieldChanges(older, newer, "call")).toEqual([
      { field: "method", before: "GET", after: undefined },
      { field: "retries", before: undefined, after: { limit: 3 } },
      { field: "url", before: "https://a", after: "https://b" },
    ]);
  });

  it("reports changed inputs", () => {
    expect(fieldChanges(g({}), g({}, "other"), "call")).toEqual([{ field: "inputs", before: ["start"], after: ["other"] }]);
  });
});
