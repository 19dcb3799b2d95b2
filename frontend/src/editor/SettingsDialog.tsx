// Workflow settings: the concurrency limit (`concurrency: { limit }`, PATCH /workflows/{id}). Over
// the limit, new instances wait queued for their turn; the tenant's plan cap holds as well.
import { useEffect, useState } from "react";
import { api, errorMessage } from "../api/client";

type Props = { workflowId: number; onClose: () => void; setStatus: (s: string) => void };

export function SettingsDialog({ workflowId, onClose, setStatus }: Props) {
  const [limit, setLimit] = useState("");
  const [error, setError] = useState("");
  // The field is read-only until the current setting has loaded: a late answer would otherwise
  // overwrite what the user typed meanwhile (and Save would send the old value).
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } }).then(({ data, error: failed }) => {
      if (!data) { setError(errorMessage(failed)); return; }
      setLimit(data.concurrency ? String(data.concurrency.limit) : "");
      setLoaded(true);
    });
  }, [workflowId]);
  const save = async () => {
    const text = limit.trim();
    if (text !== "" && !/^\d+$/.test(text)) { setError("The limit is a whole number of instances (or empty for none)"); return; }
    const { data, error: failed } = await api.PATCH("/api/v1/workflows/{workflow_id}", {
      params: { path: { workflow_id: workflowId } }, body: { concurrency: text === "" ? null : { limit: Number(text) } } });
    if (failed || !data) { setError(errorMessage(failed)); return; }
    setStatus(data.concurrency ? `At most ${data.concurrency.limit} instance(s) of this workflow run at once` : "No concurrency limit of its own");
    onClose();
  };
  return (
    <section className="payload-editor settings-dialog" role="dialog" aria-labelledby="settings-title"
             onKeyDown={(e) => { if (e.key === "Escape") onClose(); }}>
      <h2 id="settings-title">Workflow settings</h2>
      <label>Concurrency limit{" "}
        <input type="number" min={1} max={10000} value={limit} placeholder={loaded ? "none" : "loading"} aria-describedby="limit-help" disabled={!loaded}
               onChange={(e) => { setLimit(e.target.value); setError(""); }} /></label>
      <p id="limit-help" className="muted">At most this many instances of this workflow run at once; more wait, queued, for
        their turn (none is refused). The tenant's plan caps all its workflows together as well. Empty: no limit of its own.</p>
      {error && <p className="payload-state bad" role="alert">{error}</p>}
      <div className="payload-actions">
        <button onClick={save} disabled={!loaded}>Save settings</button>
        <button onClick={onClose}>Close</button>
      </div>
    </section>
  );
}
