import { describe, expect, it } from "vitest";
import { createHistory } from "./history";

type S = { n: number[] };

describe("undo/redo history", () => {
  it("undoes and redoes changes in order", () => {
    const h = createHistory<S>();
    let s: S = { n: [] };
    for (const k of [1, 2, 3]) { h.checkpoint(s, { now: k * 5000 }); s = { n: [...s.n, k] }; }
    s = h.undo(s)!;
    expect(s).toEqual({ n: [1, 2] });
    s = h.undo(s)!;
    expect(s).toEqual({ n: [1] });
    s = h.redo(s)!;
    expect(s).toEqual({ n: [1, 2] });
    s = h.redo(s)!;
    expect(s).toEqual({ n: [1, 2, 3] });
    expect(h.redo(s)).toBeUndefined();
  });

  it("a new change clears what was undone", () => {
    const h = createHistory<S>();
    let s: S = { n: [] };
    h.checkpoint(s, { now: 0 }); s = { n: [1] };
    s = h.undo(s)!;
    expect(h.canRedo()).toBe(true);
    h.checkpoint(s, { now: 10000 }); s = { n: [9] };
    expect(h.canRedo()).toBe(false);
    expect(h.undo(s)).toEqual({ n: [] });
  });

  it("coalesces a burst of typing into one step", () => {
    const h = createHistory<S>();
    let s: S = { n: [] };
    h.checkpoint(s, { coalesce: true, now: 0 }); s = { n: [1] };
    h.checkpoint(s, { coalesce: true, now: 300 }); s = { n: [1, 2] };
    h.checkpoint(s, { coalesce: true, now: 600 }); s = { n: [1, 2, 3] };
    expect(h.undo(s)).toEqual({ n: [] });
    expect(h.canUndo()).toBe(false);
  });

  it("snapshots cannot be changed through the live state", () => {
    const h = createHistory<S>();
    const s: S = { n: [1] };
    h.checkpoint(s);
    s.n.push(2);
    expect(h.undo(s)).toEqual({ n: [1] });
  });

  it("keeps at most `limit` snapshots", () => {
    const h = createHistory<S>({ limit: 2 });
    for (const k of [1, 2, 3]) h.checkpoint({ n: [k] }, { now: k * 5000 });
    expect(h.undo({ n: [] })).toEqual({ n: [3] });
    expect(h.undo({ n: [] })).toEqual({ n: [2] });
    expect(h.undo({ n: [] })).toBeUndefined();
  });
});
