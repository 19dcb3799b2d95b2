// The workflow list of the current tenant: pick a tenant, search, create, duplicate, archive, open.
import { useEffect, useRef, useState } from "react";
import { api, errorMessage, type Me, type WorkflowOut } from "./api/client";
import { PROGRAM_TEMPLATE } from "./codeFirst";
import { newestOnly } from "./exclusive";
import { navigate } from "./router";

type Workflow = WorkflowOut;


/** The slug the server derives from a name (builder.services.slug_from_name), shown before creating. */
export function slugFromName(name: string): string {
  return name.normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63).replace(/-+$/, "");
}

/** The first free slug among `<slug>-copy`, `<slug>-copy-2`, ... (the server refuses a taken one). */
export function copySlug(slug: string, taken: Set<string>): string {
  for (let n = 1; ; n++) {
    const candidate = `${slug}-copy${n === 1 ? "" : `-${n}`}`.slice(0, 63);
    if (!taken.has(candidate)) return candidate;
  }
}

export function WorkflowList() {
  const [workflows, setWorkflows] = useState<Workflow[] | null>(null);
  const [me, setMe] = useState<Me | null>(null);
  const [name, setName] = useState("");
  const [codeFirst, setCodeFirst] = useState(false);
  const [error, setError] = useState("");
  const [status, setStatus] = useState("");
  const [search, setSearch] = useState("");
  const [archived, setArchived] = useState(false);
  // Only the newest request's answer is shown: searching sends one per keystroke, and a slow
  // answer for an earlier prefix would otherwise replace the list after the newer one.
  const ticket = useRef(newestOnly()).current;
  const load = () => {
    const newest = ticket();
    return api.GET("/api/v1/workflows", { params: { query: { search, archived } } })
      .then(({ data }) => { if (newest()) setWorkflows(data ?? []); });
  };
  useEffect(() => { load(); }, [search, archived]);  // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => { api.GET("/api/v1/me").then(({ data }) => setMe(data ?? null)); }, []);

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    // The server derives the slug; a code-first workflow starts with a program as its draft.
    const draft = codeFirst ? { program: PROGRAM_TEMPLATE } : null;
    const { data, error } = await api.POST("/api/v1/workflows", { body: { name, slug: "", draft } });
    if (error) setError(errorMessage(error));
    else navigate(`/editor/w/${data!.id}`);
  };
  const switchTenant = async (tenant: string) => {
    const { data, error } = await api.POST("/api/v1/me/tenant", { body: { tenant } });
    if (error) { setStatus(errorMessage(error)); return; }
    setMe(data ?? null);
    setStatus(`Now in ${tenant}`);
    load();
  };
  const duplicate = async (w: Workflow) => {
    const { data: full } = await api.GET("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: w.id } } });
    const all = await api.GET("/api/v1/workflows", { params: { query: { archived: true } } });
    const live = await api.GET("/api/v1/workflows", { params: { query: {} } });
    const taken = new Set([...(all.data ?? []), ...(live.data ?? [])].map((x) => x.slug));
    const { data, error } = await api.POST("/api/v1/workflows", {
      body: { slug: copySlug(w.slug, taken), name: `${w.name} (copy)`, draft: full?.draft ?? null } });
    setStatus(error ? `Not duplicated: ${errorMessage(error)}` : `Duplicated as ${data!.slug}`);
    load();
  };
  const archive = async (w: Workflow) => {
    if (!window.confirm(`Archive ${w.name}? Its schedules stop; instances already running go on.`)) return;
    const { error } = await api.DELETE("/api/v1/workflows/{workflow_id}", { params: { path: { workflow_id: w.id } } });
    setStatus(error ? `Not archived: ${errorMessage(error)}` : `Archived ${w.name}`);
    load();
  };

  return (
    <div className="list">
      <header className="list-head">
        <h1>Workflows</h1>
        {me && me.tenants.length > 1 ? (
          <label>Tenant <select value={me.tenant} onChange={(e) => switchTenant(e.target.value)}>
            {me.tenants.map((t) => <option key={t} value={t}>{t}</option>)}</select></label>
        ) : me && <span className="muted">Tenant {me.tenant}</span>}
        {me?.user && <span className="muted">{me.user} ({me.role})</span>}
        <a href="/editor/secrets" onClick={(e) => { e.preventDefault(); navigate("/editor/secrets"); }}>Secrets</a>
      </header>
      <form onSubmit={create} className="create">
        <label>New workflow name <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Order approval" /></label>
        <label><input type="checkbox" checked={codeFirst} onChange={(e) => setCodeFirst(e.target.checked)} /> as code (<code>run(event, step)</code>)</label>
        <button type="submit" disabled={!slugFromName(name)}>Create</button>
        {slugFromName(name) && <span className="muted">webhook path …/{slugFromName(name)}</span>}
        {error && <span role="alert" className="error">{error}</span>}
      </form>
      <div className="list-filters">
        <input type="search" aria-label="Search workflows" placeholder="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
        <label><input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Archived</label>
        <span role="status" className="muted">{status}</span>
      </div>
      {workflows === null ? <p className="muted">Loading…</p> : workflows.length === 0 ? (
        <p className="muted">{archived ? "No archived workflows." : search ? `No workflow matches “${search}”.`
          : "No workflows yet: create one above, then drag nodes from the palette onto the canvas."}</p>
      ) : (
        <ul className="workflows">{workflows.map((w) => (
          <li key={w.id} aria-label={w.name}>
            <a href={`/editor/w/${w.id}`} onClick={(e) => { e.preventDefault(); navigate(`/editor/w/${w.id}`); }}>{w.name}</a>
            <span className="muted"> {w.slug} · {w.published_version ? `v${w.published_version} published` : "not published"}
              · edited {new Date(w.updated_at).toLocaleString()}</span>
            <span className="row-actions">
              <button onClick={() => duplicate(w)} aria-label={`Duplicate ${w.name}`}>Duplicate</button>
              {!w.archived && <button onClick={() => archive(w)} aria-label={`Archive ${w.name}`}>Archive</button>}
            </span>
          </li>))}
        </ul>
      )}
    </div>
  );
}
