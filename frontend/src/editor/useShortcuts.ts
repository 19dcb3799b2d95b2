// Keyboard shortcuts of the canvas: Delete/Backspace, Ctrl/Cmd+S, Z (undo), Shift+Z and Y (redo),
// C and V (copy, paste). Ignored while typing in a field or CodeMirror (they have their own undo and
// clipboard), and, except Save, while a version or a diff is shown (read-only).
import { useReactFlow, type Edge } from "@xyflow/react";
import { useEffect } from "react";
import type { CanvasNode } from "../graph";

type Args = {
  readOnly: boolean; current: { current: { nodes: CanvasNode[]; edges: Edge[] } };
  save: () => void; undo: () => void; redo: () => void; copy: () => void; paste: () => void;
};

export function useShortcuts({ readOnly, current, save, undo, redo, copy, paste }: Args) {
  const flow = useReactFlow();
  useEffect(() => {
    const keys = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement
        || Boolean(target?.closest?.(".cm-editor"));
      // Delete is handled here rather than by React Flow's deleteKeyCode, which ignored a Delete
      // pressed right after Ctrl+V in about half of the browser test runs (its key tracker matches
      // only when exactly one key is recorded as held); reading the selection here is deterministic.
      if ((e.key === "Delete" || e.key === "Backspace") && !e.ctrlKey && !e.metaKey && !e.altKey && !typing && !readOnly
          && !(target?.closest?.("button, a, [role=dialog]"))) {
        const { nodes: ns, edges: es } = current.current;
        const doomed = { nodes: ns.filter((n) => n.selected), edges: es.filter((x) => x.selected) };
        if (doomed.nodes.length || doomed.edges.length) { e.preventDefault(); flow.deleteElements(doomed); }
        return;
      }
      if (!(e.ctrlKey || e.metaKey)) return;
      const key = e.key.toLowerCase();
      if (key === "s") { e.preventDefault(); save(); }
      else if (typing || readOnly) return;
      else if (key === "z" && e.shiftKey) { e.preventDefault(); redo(); }
      else if (key === "z") { e.preventDefault(); undo(); }
      else if (key === "y") { e.preventDefault(); redo(); }
      else if (key === "c") copy();
      else if (key === "v") paste();
    };
    window.addEventListener("keydown", keys);
    return () => window.removeEventListener("keydown", keys);
  }, [copy, current, flow, paste, readOnly, redo, save, undo]);
}
