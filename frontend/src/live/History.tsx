// A workflow's instances: status, version, start and duration, filtered, updated live from
// /ws/workflows/<id>/; opening one shows its live view. Bulk: restart the failed instances from
// their failed step on the published version, after showing which checkpoints stay valid.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorMessage } from "../api/client";
import { newestOnly, oneAtATime } from "../exclusive";
import { navigate } from "./LiveView";
import { connectionText, useWorkflowEvents, type WorkflowEvent } from "./socket";
import { duration } from "./state";
import "./live.css";

type Row = { id: string; key: string; version: number; status: string; created_at: string; started_at: string | null; finished_at: string | null };
type Diff = { added: string[]; removed: string[]; changed: string[]; valid_checkpoints: string[] };
const STATUSES = ["queued", "running", "paused", "waiting", "waitingForPause", "errored", "terminated", "complete"];
const STATUS_OF: Record<string, string> = {
  workflow_queued: "queued", workflow_started: "running", workflow_paused: "paused", workflow_waiting: "waiting",
  workflow_completed: "complete", workflow_errored: "errored", workflow_terminated: "terminated",
};

export function History({ workflowId }: { workflowId: number }) {
  const [name, setName] = useState("");
  const [published, setPublished] = useState<number | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState("");
  const [after, setAfter] = useState("");
  const [before, setBefore] = useState("");
  const [message, setMessage] = useState("");
  const [plan, setPlan] = useState<{ failed: Row[]; diffs: Record<number, Diff> } | null>(null);
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 1000); return () => clearInterval(t); }, []);

  const query = useMemo(() => ({
    workflow: workflowId, status: status || undefined, version: version ? Number(version) : undefined,
    created_after: after ? new Date(after).toISOString() : undefined, created_before: before ? new Date(before).toISOString() : undefined,
  }), [workflowId, status, version, after, before]);
  // Only the newest request's answer is shown: a slow answer for a filter since changed (or for a
  // page of a list since re-read) would otherwise replace the list after the newer one.
  const ticket = useRef(newestOnly()).current;
  const load = useCallback(async (more?: string) => {
    const newest = ticket();
    const answer = await api.GET("/api/v1/instances", { params: { query: { ...query, limit: 50, cursor: more } } }).catch(() => null);
    if (!newest()) return;
    if (!answer) { setMessage("The server is not answering; the list will be re-read when it is back"); return; }
    const { data, error } = answer;
    if (error || !data) { setMessage(errorMessage(error)); return; }
    setRows((old) => (more ? [...(old ?? []), ...(data.items as Row[])] : (data.items as Row[])));
    setCursor(data.next_cursor ?? null);
  }, [query]);
  useEffect(() => { load(); }, [load]);
  useEffect(() => {
    api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: workflowId } } }).then(({ data }) => {
      if (data) { setName(data.name); setPublished(data.published_version ?? null); }
    });
  }, [workflowId]);

  // Live: a known row changes status in place; an unknown instance means the list moved: re-read it.
  const reload = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const shown = useRef<Row[] | null>(null);
  shown.current = rows;
  const onEvents = useCallback((events: WorkflowEvent[]) => {
    // (Decided here, not inside the updater below: React runs updaters later, during its render.)
    // `resync`: events older than the stream's window were compacted away; the list is the truth.
    const unknown = events.some((e) => e.type === "resync" || !shown.current?.some((r) => r.id === e.instance));
    setRows((old) => {
      if (!old) return old;
      const next = old.slice();
      for (const e of events) {
        const i = next.findIndex((r) => r.id === e.instance);
        if (i < 0) continue;
        const s = STATUS_OF[e.type] ?? next[i].status;
        const done = ["complete", "errored", "terminated"].includes(s);
        next[i] = { ...next[i], status: s, started_at: next[i].started_at ?? (s === "running" ? e.timestamp : null),
                    finished_at: done ? e.timestamp : e.type === "workflow_queued" ? null : next[i].finished_at };
      }
      return next;
    });
    // Filters may drop a row whose status changed, or take a new one in: re-read soon.
    if (unknown || status) {
      clearTimeout(reload.current);
      reload.current = setTimeout(() => load(), 300);
    }
  }, [load, status]);
  const { connection, refusal } = useWorkflowEvents(workflowId, onEvents, () => load());

  const preview = async () => {
    setMessage("");
    const { data } = await api.GET("/api/v1/instances", { params: { query: { workflow: workflowId, status: "errored", limit: 200 } } });
    const failed = (data?.items ?? []) as Row[];
    const diffs: Record<number, Diff> = {};
    if (published) {
      for (const v of new Set(failed.map((r) => r.version))) {
        if (v === published) continue;
        const r = await api.GET("/api/v1/workflows/{workflow_id}/versions/{number}/diff", {
          params: { path: { workflow_id: workflowId, number: published }, query: { against: v } } });
        if (r.data) diffs[v] = r.data as unknown as Diff;
      }
    }
    setPlan({ failed, diffs });
  };
  // Guarded: a double click must not restart the failed instances twice.
  const restartFailed = useMemo(() => oneAtATime()(async () => {
    const { data, error } = await api.POST("/api/v1/workflows/{workflow_id}/instances/restart-failed", {
      params: { path: { workflow_id: workflowId } }, body: { version: published } });
    setMessage(error ? `Restart failed: ${errorMessage(error)}` : `Restarted ${data?.length ?? 0} instance(s) on v${published}`);
    setPlan(null);
    load();
  }), [load, published, workflowId]);

  const open = (r: Row) => navigate(`/editor/w/${workflowId}/i/${r.id}`);
  const took = (r: Row) => (r.started_at ? duration((r.finished_at ? Date.parse(r.finished_at) : now) - Date.parse(r.started_at)) : "");
  return (
    <div className="history">
      <header className="toolbar">
        <a href={`/editor/w/${workflowId}`} onClick={(e) => { e.preventDefault(); navigate(`/editor/w/${workflowId}`); }}>← Editor</a>
        <h1>{name} · instances</h1>
        <span className={`connection connection-${connection}`} aria-label="Connection">{connectionText(connection, refusal)}</span>
        <span className="spacer" />
        <button onClick={preview} disabled={!published} title={published ? undefined : "Publish a version first: failed instances restart on the published version"}>
          {published ? `Restart failed on v${published}…` : "Restart failed (no published version)"}</button>
      </header>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>Status <select value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">any</option>{STATUSES.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Version <input type="number" min={1} value={version} onChange={(e) => setVersion(e.target.value)} placeholder="any" /></label>
        <label>Created after <input type="datetime-local" value={after} onChange={(e) => setAfter(e.target.value)} /></label>
        <label>before <input type="datetime-local" value={before} onChange={(e) => setBefore(e.target.value)} /></label>
      </form>
      {plan && (
        <section className="plan" aria-label="Restart failed instances">
          <h2>Restart {plan.failed.length} failed instance(s) on version {published}</h2>
          <p className="muted">Each restarts from its failed step; on another version, from the first step whose checkpoint the new version invalidates if that comes earlier.</p>
          {Object.entries(plan.diffs).map(([v, d]) => (
            <div key={v} className="diff">
              <h3>From v{v} ({plan.failed.filter((r) => String(r.version) === v).length} instance(s))</h3>
              <p>Checkpoints that stay valid: {d.valid_checkpoints.length ? d.valid_checkpoints.map((n) => <code key={n} className="valid">{n}</code>) : <em>none (everything runs again)</em>}</p>
              {d.changed.length > 0 && <p>Changed: {d.changed.map((n) => <code key={n} className="changed">{n}</code>)}</p>}
              {d.added.length > 0 && <p>Added: {d.added.map((n) => <code key={n}>{n}</code>)}</p>}
              {d.removed.length > 0 && <p>Removed: {d.removed.map((n) => <code key={n}>{n}</code>)}</p>}
            </div>
          ))}
          {plan.failed.some((r) => r.version === published) && <p>On v{published} already: {plan.failed.filter((r) => r.version === published).length} instance(s), every checkpoint before the failed step stays valid.</p>}
          <button onClick={restartFailed} disabled={!plan.failed.length}>Restart {plan.failed.length}</button>
          <button onClick={() => setPlan(null)}>Cancel</button>
        </section>
      )}
      <span role="status" className="status">{message}</span>
      {rows === null ? <p className="muted">Loading…</p> : rows.length === 0 ? <p className="muted">No instances match.</p> : (
        <table className="instances">
          <thead><tr><th>Instance</th><th>Status</th><th>Version</th><th>Started</th><th>Duration</th></tr></thead>
          <tbody>{rows.map((r) => (
            <tr key={r.id} onClick={() => open(r)} data-instance={r.id}>
              <td><a href={`/editor/w/${workflowId}/i/${r.id}`} onClick={(e) => { e.preventDefault(); open(r); }}>{r.key}</a></td>
              <td><span className={`badge status-${r.status}`}>{r.status}</span></td>
              <td>v{r.version}</td>
              <td>{new Date(r.created_at).toLocaleString()}</td>
              <td>{took(r)}</td>
            </tr>))}</tbody>
        </table>
      )}
      {cursor && <button onClick={() => load(cursor)}>More</button>}
    </div>
  );
}
