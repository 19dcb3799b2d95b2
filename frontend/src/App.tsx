// The editor app: the workflow list, and one workflow's canvas (/editor/w/<id>).
import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { isCodeFirst } from "./codeFirst";
import { History } from "./live/History";
import { LiveView } from "./live/LiveView";
import { onPopState } from "./router";
import { Secrets } from "./Secrets";
import { WorkflowList } from "./Workflows";

// The canvas (React Flow, CodeMirror; ELK on first auto-layout) loads only when a workflow is opened: the list stays light.
const Editor = lazy(() => import("./Editor").then((m) => ({ default: m.Editor })));
const CodeFirst = lazy(() => import("./CodeFirst").then((m) => ({ default: m.CodeFirst })));

/** A workflow opens in the canvas, or in the code-first editor when it is a program (CodeFirst.isCodeFirst). */
function WorkflowPage({ workflowId }: { workflowId: number }) {
  const [code, setCode] = useState<boolean | null>(null);
  useEffect(() => {
    let live = true;
    isCodeFirst(workflowId).then((c) => { if (live) setCode(c); });
    return () => { live = false; };
  }, [workflowId]);
  if (code === null) return <p className="muted">Loading…</p>;
  return <Suspense fallback={<p className="muted">Loading…</p>}>{code ? <CodeFirst workflowId={workflowId} /> : <Editor workflowId={workflowId} />}</Suspense>;
}

export function App() {
  const [path, setPath] = useState(location.pathname);
  const shown = useRef(path);
  shown.current = path;
  useEffect(() => {
    // The browser's Back/Forward ask before leaving unsaved work (router.ts).
    const on = (e: PopStateEvent) => setPath(onPopState(e, shown.current));
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  // Live progress: /editor/i/<instance> or /editor/w/<workflow>/i/<instance>; a workflow's instances at /editor/w/<workflow>/instances.
  const live = path.match(/^\/editor\/(?:w\/\d+\/)?i\/([\w-]+)/);
  if (live) return <LiveView instanceId={live[1]} />;
  const instances = path.match(/^\/editor\/w\/(\d+)\/instances/);
  if (instances) return <History workflowId={Number(instances[1])} />;
  if (path.startsWith("/editor/secrets")) return <Secrets />;
  const match = path.match(/^\/editor\/w\/(\d+)/);
  return match ? <WorkflowPage key={match[1]} workflowId={Number(match[1])} /> : <WorkflowList />;
}
