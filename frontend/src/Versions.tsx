// The version list: author and time, which one is live, its compiled program (read-only), publish.
import { useEffect, useState } from "react";
import { api, errorMessage } from "./api/client";

type Version = { number: number; author: string | null; created_at: string; published: boolean; program_hash: string };

export function Versions({ workflowId, onClose }: { workflowId: number; onClose: () => void }) {
  const [versions, setVersions] = useState<Version[]>([]);
  const [program, setProgram] = useState<{ number: number; text: string } | null>(null);
  const [status, setStatus] = useState("");
  const load = () => api.GET("/api/v1/workflows/{workflow_id}/versions", { params: { path: { workflow_id: workflowId } } })
    .then(({ data }) => setVersions((data as Version[]) ?? []));
  useEffect(() => { load(); }, [workflowId]);  // eslint-disable-line react-hooks/exhaustive-deps

  const show = async (number: number) => {
    const r = await fetch(`/api/v1/workflows/${workflowId}/versions/${number}/program`, { credentials: "same-origin" });
    setProgram({ number, text: await r.text() });
  };
  const publish = async (number: number) => {
    const { error } = await api.POST("/api/v1/workflows/{workflow_id}/versions/{number}/publish",
                                     { params: { path: { workflow_id: workflowId, number } } });
    setStatus(error ? errorMessage(error) : `Version ${number} is live`);
    load();
  };
  return (
    <aside className="panel versions" aria-label="Versions">
      <h2>Versions <button onClick={onClose} aria-label="Close versions">×</button></h2>
      {status && <p role="status">{status}</p>}
      {versions.length === 0 && <p className="muted">No versions yet: Publish saves one.</p>}
      <ul>
        {versions.map((v) => (
          <li key={v.number}>
            <strong>v{v.number}</strong>{v.published && <span className="live"> live</span>}
            <div className="muted">{new Date(v.created_at).toLocaleString()}{v.author ? ` · ${v.author}` : ""}</div>
            <button onClick={() => show(v.number)}>Program</button>{" "}
            {!v.published && <button onClick={() => publish(v.number)}>Publish</button>}
          </li>
        ))}
      </ul>
      {program && (
        <section aria-label={`Program of version ${program.number}`}>
          <h3>Program of v{program.number}</h3>
          <pre className="program">{program.text}</pre>
        </section>
      )}
    </aside>
  );
}
