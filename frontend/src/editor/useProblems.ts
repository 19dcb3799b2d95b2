// Problems of the draft: marks on the nodes and the Problems list, from Validate, from a Save that
// could not make a version, and cleared by a Save or Publish that did. Once shown they follow the
// edits (a second after the last one) until none is left.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, type Problem } from "../api/client";
import { newestOnly } from "../exclusive";
import type { CanvasNode, Graph } from "../graph";

type Args = {
  graph: Graph; draftKey: string; paused: boolean;
  setNodes: (f: (ns: CanvasNode[]) => CanvasNode[]) => void; setStatus: (s: string) => void;
};

export function useProblems({ graph, draftKey, paused, setNodes, setStatus }: Args) {
  const [problems, setProblems] = useState<Problem[]>([]);
  const [revalidate, setRevalidate] = useState(false);
  const mark = useCallback((found: Problem[]) => {
    setProblems(found);
    setNodes((ns) => ns.map((n) => {
      const mine = found.filter((p) => p.node_id === n.id).map((p) => p.message);
      // Unchanged nodes keep their object, so React Flow does not redraw them.
      return (n.data.problems ?? []).join("\n") === mine.join("\n") ? n : { ...n, data: { ...n.data, problems: mine } };
    }));
    if (!found.length) setRevalidate(false);
  }, [setNodes]);

  // Only the newest validation's answer marks the nodes: an older one (for a graph edited since)
  // arriving last would put back problems already fixed. A Save's answer takes a ticket too.
  const ticket = useRef(newestOnly()).current;
  const latest = useRef(graph);
  latest.current = graph;
  // Only Validate says what it found in the status line: the re-checks that follow the edits only
  // move the marks, so they never overwrite what a Save or Run just said there.
  const check = useCallback(async (g: Graph, announce: boolean) => {
    const newest = ticket();
    const { data } = await api.POST("/api/v1/validate", { body: { graph: g } });
    if (!newest()) return;
    const found = data ?? [];
    mark(found);
    if (announce) setStatus(found.length ? `${found.length} problem(s)` : "No problems");
    if (found.length) setRevalidate(true);
  }, [mark, setStatus, ticket]);
  const validate = useCallback(() => check(latest.current, true), [check]);
  /** What a Save learnt: the problems that kept the draft from a version, or none (every mark cleared). */
  const fromSave = useCallback((found: Problem[]) => {
    ticket();  // an older validation's answer must not bring back what this save cleared
    mark(found);
    if (found.length) setRevalidate(true);
  }, [mark, ticket]);

  // Keyed on the graph's meaning, so the marks themselves (view state) do not trigger another round.
  useEffect(() => {
    if (!revalidate || paused) return;
    const timer = window.setTimeout(() => check(latest.current, false), 1000);
    return () => window.clearTimeout(timer);
  }, [draftKey, check, revalidate, paused]);

  return { problems, validate, fromSave };
}
