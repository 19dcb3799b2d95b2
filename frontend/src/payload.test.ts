import { beforeEach, describe, expect, it } from "vitest";
import { checkPayload, loadPayload, savePayload } from "./payload";

describe("the test payload", () => {
  beforeEach(() => localStorage.clear());

  it("parses JSON, empty meaning null", () => {
    expect(checkPayload('{"n": 21}')).toEqual({ ok: true, value: { n: 21 } });
    expect(checkPayload("  ")).toEqual({ ok: true, value: null });
    expect(checkPayload("[1, 2]")).toEqual({ ok: true, value: [1, 2] });
  });

  it("says why text is not JSON", () => {
    const c = checkPayload("{n: 1}");
    expect(c.ok).toBe(false);
    expect(!c.ok && c.error).toMatch(/JSON|property/i);
  });

  it("is remembered per workflow", () => {
    expect(loadPayload(1)).toBe("{}");
    savePayload(1, '{"a": 1}');
    savePayload(2, "[]");
    expect(loadPayload(1)).toBe('{"a": 1}');
    expect(loadPayload(2)).toBe("[]");
  });
});
