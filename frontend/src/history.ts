// Undo/redo of the graph: snapshots taken before each change the user makes.
//
// Invariant: `past` holds the states before each change, newest last; `future` the states undone,
// newest last. A new change clears `future` (a redo after editing would replay onto a different
// graph). Snapshots are serialized so later mutation of the live state cannot alter them.
// Typing in a field would make one snapshot per key stroke: `checkpoint(state, { coalesce })` skips a
// snapshot taken within `coalesceMs` of the previous one, so a burst of typing undoes as one change.

export type History<T> = {
  checkpoint(state: T, options?: { coalesce?: boolean; now?: number }): void;
  undo(current: T): T | undefined;
  redo(current: T): T | undefined;
  canUndo(): boolean;
  canRedo(): boolean;
  clear(): void;
};

export function createHistory<T>({ limit = 200, coalesceMs = 1000 } = {}): History<T> {
  let past: string[] = [];
  let future: string[] = [];
  let at = -Infinity;
  return {
    checkpoint(state, { coalesce = false, now = Date.now() } = {}) {
      if (coalesce && now - at < coalesceMs) return;
      past.push(JSON.stringify(state));
      if (past.length > limit) past.shift();
      future = [];
      at = now;
    },
    undo(current) {
      const previous = past.pop();
      if (previous === undefined) return undefined;
      future.push(JSON.stringify(current));
      at = -Infinity;  // the next edit after an undo is a change of its own
      return JSON.parse(previous) as T;
    },
    redo(current) {
      const next = future.pop();
      if (next === undefined) return undefined;
      past.push(JSON.stringify(current));
      at = -Infinity;
      return JSON.parse(next) as T;
    },
    canUndo: () => past.length > 0,
    canRedo: () => future.length > 0,
    clear() { past = []; future = []; at = -Infinity; },
  };
}
