// The tenant's secrets (/editor/secrets): names, masked values (the server never returns one), set,
// rotate and delete, and where each is used (the workflow drafts' nodes that read it, secrets.ts).
// Only owners may list and change them: others are told so.
import { useCallback, useEffect, useState } from "react";
import { api, errorMessage, type CatalogEntry } from "./api/client";
import { navigate } from "./router";
import { secretUses, type SecretUse } from "./secrets";

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function Secrets() {
  const [names, setNames] = useState<string[] | null>(null);
  const [uses, setUses] = useState<Map<string, SecretUse[]>>(new Map());
  const [status, setStatus] = useState("");
  const [refused, setRefused] = useState("");
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [rotating, setRotating] = useState<string | null>(null);
  const [newValue, setNewValue] = useState("");

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/api/v1/secrets");
    if (error) { setRefused(errorMessage(error)); setNames([]); return; }
    setNames([...data].sort());
    const [{ data: workflows }, { data: catalog }] = await Promise.all([api.GET("/api/v1/workflows", { params: { query: {} } }), api.GET("/api/v1/catalog")]);
    const types = Object.fromEntries((catalog ?? []).map((c) => [c.type, c as CatalogEntry]));
    setUses(secretUses((workflows ?? []).map((w) => ({ id: w.id, name: w.name, draft: w.draft as { nodes?: { id: string; type: string }[] } | null })), types));
  }, []);
  useEffect(() => { load(); }, [load]);

  const put = async (secret: string, text: string, verb: string) => {
    const { error } = await api.PUT("/api/v1/secrets/{name}", { params: { path: { name: secret } }, body: { value: text } });
    setStatus(error ? `Not saved: ${errorMessage(error)}` : `${verb} ${secret}`);
    if (!error) { setRotating(null); setNewValue(""); load(); }
    return !error;
  };
  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!NAME.test(name)) { setStatus("A secret name is letters, digits and _, starting with a letter or _"); return; }
    if (!value) { setStatus("Give the secret a value"); return; }
    if (await put(name, value, names?.includes(name) ? "Rotated" : "Set")) { setName(""); setValue(""); }
  };
  const remove = async (secret: string) => {
    const used = uses.get(secret) ?? [];
    if (!window.confirm(`Delete ${secret}?${used.length ? ` ${used.length} node(s) read it and will fail.` : ""}`)) return;
    const { error } = await api.DELETE("/api/v1/secrets/{name}", { params: { path: { name: secret } } });
    setStatus(error ? `Not deleted: ${errorMessage(error)}` : `Deleted ${secret}`);
    load();
  };
  // Used somewhere but not set: listed too, so the fix is one click away.
  const missing = [...uses.keys()].filter((n) => names && !names.includes(n)).sort();

  return (
    <div className="list secrets">
      <header className="list-head">
        <a href="/editor/" onClick={(e) => { e.preventDefault(); navigate("/editor/"); }}>← Workflows</a>
        <h1>Secrets</h1>
        <span role="status" className="muted">{status}</span>
      </header>
      <p className="muted">Values are stored encrypted and never shown again: set a new value to rotate one. Nodes read them where they run
        (a webhook trigger's signing secret, <code>step.secret(name)</code> in code-first workflows).</p>
      {refused ? <p role="alert" className="error">{refused}</p> : <>
        <form onSubmit={add} className="create" aria-label="Set a secret">
          <label>Name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="WEBHOOK_SECRET" /></label>
          <label>Value <input type="password" autoComplete="new-password" value={value} onChange={(e) => setValue(e.target.value)} /></label>
          <button type="submit">Set</button>
        </form>
        {names === null ? <p className="muted">Loading…</p> : (
          <table className="secret-table">
            <thead><tr><th>Name</th><th>Value</th><th>Used by</th><th></th></tr></thead>
            <tbody>
              {[...names, ...missing].map((n) => {
                const set = names.includes(n);
                return (
                  <tr key={n} aria-label={`Secret ${n}`} className={set ? "" : "missing"}>
                    <td><code>{n}</code></td>
                    <td>{set ? <span aria-label="masked value">••••••••</span> : <strong className="error">not set</strong>}</td>
                    <td>{(uses.get(n) ?? []).map((u) => (
                      <a key={`${u.workflowId}:${u.node}`} href={`/editor/w/${u.workflowId}`}
                         onClick={(e) => { e.preventDefault(); navigate(`/editor/w/${u.workflowId}`); }}>{u.workflow} · {u.node}</a>
                    ))}{!(uses.get(n) ?? []).length && <span className="muted">no node</span>}</td>
                    <td>
                      {rotating === n ? (
                        <form onSubmit={(e) => { e.preventDefault(); if (newValue) put(n, newValue, set ? "Rotated" : "Set"); }}>
                          <input type="password" autoFocus aria-label={`New value of ${n}`} autoComplete="new-password"
                                 value={newValue} onChange={(e) => setNewValue(e.target.value)} />
                          <button type="submit">Save</button> <button type="button" onClick={() => setRotating(null)}>Cancel</button>
                        </form>
                      ) : <button onClick={() => { setRotating(n); setNewValue(""); }} aria-label={`${set ? "Rotate" : "Set"} ${n}`}>{set ? "Rotate" : "Set"}</button>}
                      {" "}{set && <button onClick={() => remove(n)} aria-label={`Delete ${n}`}>Delete</button>}
                    </td>
                  </tr>);
              })}
              {names.length + missing.length === 0 && <tr><td colSpan={4} className="muted">No secrets yet.</td></tr>}
            </tbody>
          </table>
        )}
      </>}
    </div>
  );
}
