// The version list: author and time, which one is live; open one read-only on the canvas, diff two
// (highlighted on the canvas, from the server's version diff), its compiled program (read-only), publish.
import type { Edge } from "@xyflow/react";
import { useEffect, useState } from "react";
import { api, errorMessage, type VersionOut } from "./api/client";
import { CodeEditor } from "./code/CodeEditor";
import { diffCanvas, toCanvas, type CanvasNode, type Catalog, type Graph } from "./graph";

type Version = Omit<VersionOut, "graph"> & { graph: Graph | null };

/** What the canvas shows instead of the draft: a version (with its graph, to copy into the draft) or a diff. */
export type CanvasView = {
  title: string; nodes: CanvasNode[]; edges: Edge[]; graph?: Graph;
  legend?: { added: number; removed: number; changed: number };
  compare?: { older: Graph; newer: Graph };  // a diff's two graphs (for the changed fields of a node)
};

// `changed` changes when the editor made or published a version (the list is re-read); `onPublished`
// tells the editor which version this list made live (its toolbar compares the draft with it).
type Props = {
  workflowId: number; catalog: Catalog; onClose: () => void; onView: (v: CanvasView) => void;
  changed: number; onPublished: (number: number, graph: Graph | null) => void;
};

export function Versions({ workflowId, catalog, onClose, onView, changed, onPublished }: Props) {
  const [versions, setVersions] = useState<Version[]>([]);
  const [program, setProgram] = useState<{ number: number; text: string } | null>(null);
  const [status, setStatus] = useState("");
  const [older, setOlder] = useState<number | "">("");
  const [newer, setNewer] = useState<number | "">("");
  const load = () => api.GET("/api/v1/workflows/{workflow_id}/versions", { params: { path: { workflow_id: workflowId } } })
    .then(({ data }) => {
      const list = (data ?? []).map((v) => ({ ...v, graph: v.graph as Graph | null }));
      setVersions(list);
      if (list.length >= 2) { setNewer(list[0].number); setOlder(list[1].number); }
    });
  useEffect(() => { load(); }, [workflowId, changed]);  // eslint-disable-line react-hooks/exhaustive-deps

  const show = async (number: number) => {
    const r = await fetch(`/api/v1/workflows/${workflowId}/versions/${number}/program`, { credentials: "same-origin" }).catch(() => null);
    // A refusal's body is the error, not a program: say why instead of showing it as code.
    if (!r?.ok) {
      setProgram(null);
      setStatus(`Program of v${number}: ${r ? errorMessage(await r.json().catch(() => null)) : "the server is not answering"}`);
      return;
    }
    setProgram({ number, text: await r.text() });
  };
  const open = (v: Version) => {
    if (!v.graph) { setStatus(`v${v.number} is code-first: it has a program but no graph`); show(v.number); return; }
    const c = toCanvas(v.graph, catalog);
    onView({ title: `Version ${v.number}`, graph: v.graph, edges: c.edges,
             nodes: c.nodes.map((n) => ({ ...n, data: { ...n.data, readOnly: true } })) });
  };
  const diff = async () => {
    if (older === "" || newer === "" || older === newer) { setStatus("Pick two different versions"); return; }
    const a = versions.find((v) => v.number === older)!, b = versions.find((v) => v.number === newer)!;
    const { data, error } = await api.GET("/api/v1/workflows/{workflow_id}/versions/{number}/diff",
                                          { params: { path: { workflow_id: workflowId, number: b.number }, query: { against: a.number } } });
    if (error || !data) { setStatus(errorMessage(error)); return; }
    const d = data;
    const before = a.graph ?? { nodes: [], edges: [] }, after = b.graph ?? { nodes: [], edges: [] };
    const c = diffCanvas(before, after, d, catalog);
    onView({ title: `Changes from v${a.number} to v${b.number}`, nodes: c.nodes, edges: c.edges, compare: { older: before, newer: after },
             legend: { added: d.added.length, removed: d.removed.length, changed: d.changed.length } });
  };
  const publish = async (number: number) => {
    const { error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/publish",
                                     { params: { path: { workflow_id: workflowId, number } } });
    setStatus(error ? errorMessage(error) : `Version ${number} is live`);
    if (!error) onPublished(number, versions.find((v) => v.number === number)?.graph ?? null);
    load();
  };
  const pick = (set: (n: number | "") => void) => (e: React.ChangeEvent<HTMLSelectElement>) => set(e.target.value === "" ? "" : Number(e.target.value));
  return (
    <aside className="panel versions" aria-label="Versions">
      <h2>Versions <button onClick={onClose} aria-label="Close versions">×</button></h2>
      {status && <p role="status">{status}</p>}
      {versions.length === 0 && <p className="muted">No versions yet: Publish saves one.</p>}
      {versions.length >= 2 && (
        <div className="diff-pick" role="group" aria-label="Compare versions">
          <label>From <select aria-label="Older version" value={older} onChange={pick(setOlder)}>
            {versions.map((v) => <option key={v.number} value={v.number}>v{v.number}</option>)}</select></label>
          <label>to <select aria-label="Newer version" value={newer} onChange={pick(setNewer)}>
            {versions.map((v) => <option key={v.number} value={v.number}>v{v.number}</option>)}</select></label>
          <button onClick={diff}>Diff</button>
        </div>
      )}
      <ul>
        {versions.map((v) => (
          <li key={v.number} aria-label={`Version ${v.number}`}>
            <strong>v{v.number}</strong>{v.published && <span className="version-live"> live</span>}
            <div className="muted">{new Date(v.created_at).toLocaleString()}{v.author ? ` · ${v.author}` : ""}</div>
            <button onClick={() => open(v)} aria-label={`Open version ${v.number}`}>Open</button>{" "}
            <button onClick={() => show(v.number)} aria-label={`Program of version ${v.number}`}>Program</button>{" "}
            {!v.published && <button onClick={() => publish(v.number)} aria-label={`Publish version ${v.number}`}>Publish</button>}
          </li>
        ))}
      </ul>
      {program && (
        // A wide view over the canvas (the side column is too narrow for code); Escape closes it.
        <section aria-label={`Program of version ${program.number}`} className="program program-wide" role="dialog"
                 onKeyDown={(e) => { if (e.key === "Escape") setProgram(null); }}>
          <h3>Program of v{program.number} <button onClick={() => setProgram(null)} aria-label="Close program">×</button></h3>
          <CodeEditor key={program.number} kind="program" label={`Compiled program of version ${program.number}`} value={program.text} readOnly />
        </section>
      )}
    </aside>
  );
}
