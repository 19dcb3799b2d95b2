import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LEAVE_QUESTION, navigate, onPopState, setLeaveGuard } from "./router";

// The browser's Back: the URL has already changed when popstate arrives (state of the entry: null).
function back(to: string): PopStateEvent {
  history.pushState(null, "", to);
  return new PopStateEvent("popstate", { state: null });
}

describe("leaving unsaved work through Back", () => {
  let release = () => {};
  beforeEach(() => history.replaceState(null, "", "/editor/w/1"));
  afterEach(() => { release(); vi.restoreAllMocks(); });

  it("leaves freely when nothing is unsaved", () => {
    const ask = vi.spyOn(window, "confirm");
    release = setLeaveGuard(() => false);
    expect(onPopState(back("/editor/"), "/editor/w/1")).toBe("/editor/");
    expect(ask).not.toHaveBeenCalled();
  });

  it("asks, and on cancel stays and puts the URL back", () => {
    const ask = vi.spyOn(window, "confirm").mockReturnValue(false);
    release = setLeaveGuard(() => true);
    expect(onPopState(back("/editor/"), "/editor/w/1")).toBe("/editor/w/1");
    expect(ask).toHaveBeenCalledWith(LEAVE_QUESTION);
    expect(location.pathname).toBe("/editor/w/1");
  });

  it("asks, and on OK leaves", () => {
    vi.spyOn(window, "confirm").mockReturnValue(true);
    release = setLeaveGuard(() => true);
    expect(onPopState(back("/editor/"), "/editor/w/1")).toBe("/editor/");
    expect(location.pathname).toBe("/editor/");
  });

  it("does not ask again for in-app navigation (its link asked already)", () => {
    const ask = vi.spyOn(window, "confirm");
    release = setLeaveGuard(() => true);
    const seen: string[] = [];
    const on = (e: PopStateEvent) => seen.push(onPopState(e, "/editor/w/1"));
    window.addEventListener("popstate", on);
    navigate("/editor/w/1/i/abc");
    window.removeEventListener("popstate", on);
    expect(seen).toEqual(["/editor/w/1/i/abc"]);
    expect(ask).not.toHaveBeenCalled();
  });

  it("a released guard no longer asks", () => {
    const ask = vi.spyOn(window, "confirm");
    setLeaveGuard(() => true)();
    expect(onPopState(back("/editor/"), "/editor/w/1")).toBe("/editor/");
    expect(ask).not.toHaveBeenCalled();
  });
});
