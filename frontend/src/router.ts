// The app's own router: paths pushed with the History API, and a guard that keeps unsaved work.
//
// Invariants: navigate() is the only in-app way to change the path, and it marks the popstate event
// it dispatches, so a guard is asked once per leave (in-app links ask before calling navigate, the
// browser's Back/Forward are asked in `onPopState`). A refused Back puts the left path back with
// pushState, so the address bar always names what is shown.

/** Says whether leaving the current view would lose work (the editor registers one while it is open). */
type Guard = () => boolean;

let guard: Guard | null = null;
const IN_APP = "in-app";

export const LEAVE_QUESTION = "Leave without saving your changes?";

/** Registers the current view's guard; the returned function removes it (if it is still the one). */
export function setLeaveGuard(g: Guard): () => void {
  guard = g;
  return () => { if (guard === g) guard = null; };
}

/** True when nothing would be lost, or the user agrees to lose it. */
export function confirmLeave(): boolean {
  return !guard?.() || window.confirm(LEAVE_QUESTION);
}

export function navigate(path: string) {
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate", { state: IN_APP }));
}

/**
 * Handles a popstate for a router showing `shown` (the path on screen): returns the path to show
 * now. The browser's Back/Forward have already changed the URL; if the user keeps their unsaved
 * work, the shown path is pushed back and stays on screen.
 */
export function onPopState(event: PopStateEvent, shown: string): string {
  if (event.state === IN_APP || location.pathname === shown || confirmLeave()) return location.pathname;
  history.pushState(null, "", shown);
  return shown;
}
