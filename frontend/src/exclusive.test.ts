import { describe, expect, it } from "vitest";
import { newestOnly, oneAtATime } from "./exclusive";

describe("oneAtATime", () => {
  it("drops a second call while the first is pending, across actions sharing the guard", async () => {
    const guard = oneAtATime();
    let calls = 0;
    let release!: () => void;
    const slow = guard(async () => { calls++; await new Promise<void>((r) => { release = r; }); });
    const other = guard(async () => { calls++; });
    const first = slow();
    await slow();   // double click
    await other();  // e.g. Ctrl+S while Run is in flight
    expect(calls).toBe(1);
    release();
    await first;
    await other();  // free again once the first is done
    expect(calls).toBe(2);
  });

  it("is free again after a failing action", async () => {
    const guard = oneAtATime();
    let calls = 0;
    const failing = guard(async () => { calls++; throw new Error("network"); });
    await expect(failing()).rejects.toThrow("network");
    await expect(failing()).rejects.toThrow("network");
    expect(calls).toBe(2);
  });
});

describe("newestOnly", () => {
  it("keeps only the newest ticket current, whatever order answers come back in", () => {
    const ticket = newestOnly();
    const first = ticket();
    expect(first()).toBe(true);
    const second = ticket();
    expect(first()).toBe(false);  // an older answer arriving last is dropped
    expect(second()).toBe(true);
  });
});

describe("actions in turn", () => {
  it("drops a repeated pending action but queues a different one after it", async () => {
    const { inTurn } = await import("./exclusive");
    const turn = inTurn();
    const done: string[] = [];
    let release!: () => void;
    const save = turn("save", () => new Promise<void>((r) => { release = () => { done.push("save"); r(); }; }));
    const publish = turn("publish", async () => { done.push("publish"); });
    const first = save();
    const again = save();       // a double click: dropped
    const queued = publish();   // Publish while the save is in flight: runs after it
    await Promise.resolve();
    expect(done).toEqual([]);
    release();
    await Promise.all([first, again, queued]);
    expect(done).toEqual(["save", "publish"]);
  });
});
