// The code-first editor: a workflow written as a program (`export default async function run(event,
// step)`) instead of drawn. The program (CodeMirror, completed and checked against the step API's
// declarations) at the left, its diagram (diagram.ts, redrawn as you type) at the right; Validate,
// Save (a version), Publish (with the safe-deploy check), Run with a test payload (then the live
// view, with the diagram).
//
// The draft is the workflow's `draft` as `{"program": "..."}` (builder.services.code_first_program):
// Save and Run make it a version exactly as they do a drawn graph's draft.
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage, type VersionCheck } from "./api/client";
import { CodeEditor } from "./code/CodeEditor";
import { diagramOf, type DiagramNode } from "./code/diagram";
import { DiagramView } from "./code/DiagramView";
import { placeFromQuery, requestReveal } from "./code/reveal";
import { PROGRAM_TEMPLATE } from "./codeFirst";
import { PublishDialog } from "./editor/PublishDialog";
import { inTurn } from "./exclusive";
import { confirmLeave, navigate, setLeaveGuard } from "./router";
import "./code/diagram.css";

type ServerProblem = { message: string; line?: number | null; column?: number | null };

/** The program of a workflow: its code-first draft, else its published version's program (a workflow made through the API). */
async function loadProgram(workflowId: number): Promise<{ name: string; program: string; published: number | null } | null> {
  const { data } = await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } });
  if (!data) return null;
  const draft = data.draft as { program?: unknown } | null;
  if (draft && typeof draft.program === "string") return { name: data.name, program: draft.program, published: data.published_version ?? null };
  const number = data.published_version;
  let program = "";
  if (number) {
    const r = await fetch(`/api/v1/workflows/${workflowId}/versions/${number}/program`, { credentials: "same-origin" });
    if (r.ok) program = await r.text();
  }
  return { name: data.name, program: program || PROGRAM_TEMPLATE, published: number ?? null };
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

function CodeFirstPage({ workflowId }: { workflowId: number }) {
  const [name, setName] = useState("");
  const [program, setProgram] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [published, setPublished] = useState<number | null>(null);
  const [status, setStatus] = useState("");
  const [problems, setProblems] = useState<ServerProblem[]>([]);
  const [payload, setPayload] = useState(() => localStorage.getItem(`payload:${workflowId}`) ?? "{}");
  const [selected, setSelected] = useState<string | null>(null);
  const current = useRef(program);
  current.current = program;

  useEffect(() => {
    loadProgram(workflowId).then((w) => {
      if (!w) { setStatus("No such workflow (or not in this tenant)"); return; }
      setName(w.name);
      setProgram(w.program);
      setSaved(w.program);
      setPublished(w.published);
    });
  }, [workflowId]);
  // Opened from an error's frame (the live view): ?line=&column= shows that line once the program is on screen.
  useEffect(() => {
    if (program === null) return;
    const place = placeFromQuery(location.search);
    if (place?.line) {
      requestReveal({ target: "program", line: place.line, column: place.column });
      setStatus(`Opened line ${place.line}`);
      window.history.replaceState(null, "", location.pathname);
    }
  }, [program === null]);  // eslint-disable-line react-hooks/exhaustive-deps

  const dirty = program !== null && program !== saved;
  const dirtyNow = useRef(dirty);
  dirtyNow.current = dirty;
  useEffect(() => setLeaveGuard(() => dirtyNow.current), []);
  useEffect(() => {
    const warn = (e: BeforeUnloadEvent) => { if (dirtyNow.current) e.preventDefault(); };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, []);

  const shown = useDebounced(program ?? "", 250);
  const { diagram, error: parseError } = useMemo(() => diagramOf(shown), [shown]);
  const steps = diagram?.nodes.filter((n) => n.kind === "step").length ?? 0;

  const saveDraft = useCallback(async (text: string): Promise<boolean> => {
    const { error } = await api.PATCH("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } }, body: { draft: { program: text } } });
    if (error) { setStatus(`Save failed: ${errorMessage(error)}`); return false; }
    setSaved(text);
    return true;
  }, [workflowId]);

  const refused = (error: unknown, what: string) => {
    const e = (error as { error?: { message?: string; line?: number; column?: number } } | undefined)?.error;
    setProblems(e ? [{ message: e.message ?? "", line: e.line, column: e.column }] : []);
    setStatus(`${what}: ${errorMessage(error)}`);
  };

  const validate = useCallback(async () => {
    const text = current.current ?? "";
    const { data, error } = await api.POST("/api/v1/validate-program", { body: { program: text } });
    if (error || !data) { refused(error, "Not validated"); return; }
    setProblems(data);
    setStatus(data.length ? `${data.length} problem(s)` : "No problems: the program compiles");
  }, []);

  const save = useCallback(async (): Promise<number | null> => {
    const text = current.current ?? "";
    if (!(await saveDraft(text))) return null;
    const made = await api.POST("/api/v1/workflows/{workflow_id}/draft/version", { params: { path: { workflow_id: workflowId } } });
    if (made.error || !made.data) { refused(made.error, "Saved as a draft"); return null; }
    setProblems([]);
    setStatus(`Saved as version ${made.data.number}`);
    return made.data.number;
  }, [saveDraft, workflowId]);

  const publishNow = useCallback(async (number: number) => {
    const { error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/publish", { params: { path: { workflow_id: workflowId, number } } });
    if (error) { setStatus(`Not published: ${errorMessage(error)}`); return; }
    setPublished(number);
    setStatus(`Published version ${number}`);
  }, [workflowId]);
  // Publish with the safe-deploy check, as the canvas does (PublishDialog): with instances in
  // flight, the check's report is shown and publishing waits for the user.
  const [pending, setPending] = useState<VersionCheck | null>(null);
  const publish = useCallback(async () => {
    const number = await save();
    if (number === null) return;
    setStatus(`Checking version ${number} against the instances in flight…`);
    const { data: check, error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/check", {
      params: { path: { workflow_id: workflowId, number } } });
    if (error || !check) { setStatus(`Not published: the check failed: ${errorMessage(error)}`); return; }
    if (check.checked === 0) { await publishNow(number); return; }
    setStatus(check.summary);
    setPending(check);
  }, [publishNow, save, workflowId]);

  const run = useCallback(async () => {
    let params: unknown;
    try { params = JSON.parse(payload || "null"); } catch { setStatus("The test payload is not JSON"); return; }
    localStorage.setItem(`payload:${workflowId}`, payload);
    if (!(await saveDraft(current.current ?? ""))) return;
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/draft/instances", {
      params: { path: { workflow_id: workflowId } }, body: { params, delivery: null } });
    if (error || !data) { refused(error, "Run failed"); return; }
    setProblems([]);
    setStatus(`Started instance ${data.id} (v${data.version})`);
    if (confirmLeave()) navigate(`/editor/w/${workflowId}/i/${data.id}`);
  }, [payload, saveDraft, workflowId]);

  const turn = useMemo(() => inTurn(), []);
  const actions = useMemo(() => ({ save: turn("save", save), publish: turn("publish", publish), run: turn("run", run) }), [publish, run, save, turn]);
  useEffect(() => {
    const key = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); actions.save(); }
    };
    window.addEventListener("keydown", key);
    return () => window.removeEventListener("keydown", key);
  }, [actions]);

  const open = (n: DiagramNode | null) => {
    setSelected(n?.id ?? null);
    if (n?.line) requestReveal({ target: "program", line: n.line });
  };
  const link = (to: string) => (e: React.MouseEvent) => { e.preventDefault(); if (confirmLeave()) navigate(to); };

  return (
    <div className="codefirst">
      <header className="toolbar">
        <a href="/editor/" onClick={link("/editor/")}>← Workflows</a>
        <h1>{name}{dirty ? <span aria-label="unsaved changes" title="Unsaved changes"> •</span> : ""} <span className="muted">code-first</span></h1>
        <button onClick={validate}>Validate</button>
        <button onClick={actions.save} title="Save the program as a version (Ctrl/Cmd+S)">Save</button>
        <button onClick={actions.publish}>Publish</button>
        <button onClick={actions.run} title="Save and start an instance of this program with the test payload">Run</button>
        {published ? <span className="badge-note ok">v{published} live</span> : <span className="badge-note">not published</span>}
        <a href={`/editor/w/${workflowId}/instances`} onClick={link(`/editor/w/${workflowId}/instances`)}>Instances</a>
        <a href="/editor/step-api.d.ts" target="_blank" rel="noreferrer" title="The step API's TypeScript declarations">Types</a>
        <span role="status" className="status" aria-live="polite">{status}</span>
      </header>
      {pending && <PublishDialog check={pending} onCancel={() => { setPending(null); setStatus("Not published"); }}
                                 onPublish={() => { const v = pending.version; setPending(null); publishNow(v); }} />}
      <section className="program-pane" aria-label="Program source">
        {program === null ? <p className="muted">Loading…</p>
          : <CodeEditor id="program" kind="module" label="Program" value={program} onChange={setProgram} />}
      </section>
      <section className="diagram-pane" aria-label="Diagram">
        {parseError && <p className="error-box parse-error" role="alert">Line {parseError.line}, column {parseError.column}: {parseError.message}</p>}
        {diagram && <DiagramView diagram={diagram} selected={selected} onSelect={open} />}
        {!diagram && !parseError && <p className="muted">Loading…</p>}
      </section>
      <section className="bottom">
        <div className="payload">
          <label htmlFor="payload-editor">Test payload (<code>event.payload</code>)</label>
          <CodeEditor id="payload-editor" kind="json" label="Test payload" value={payload} onChange={setPayload} />
          <span className="muted">{steps} step(s) in the diagram</span>
        </div>
        {problems.length > 0 && (
          <section className="problems" aria-label="Problems">
            <h2>Problems</h2>
            <ul>{problems.map((p, i) => (
              <li key={i}><button className="link" onClick={() => p.line && requestReveal({ target: "program", line: p.line, column: p.column ?? undefined })}>
                {p.line ? `line ${p.line}${p.column ? `:${p.column}` : ""}: ` : ""}{p.message}</button></li>))}</ul>
          </section>
        )}
      </section>
    </div>
  );
}

export function CodeFirst({ workflowId }: { workflowId: number }) {
  return <ReactFlowProvider><CodeFirstPage workflowId={workflowId} /></ReactFlowProvider>;
}
