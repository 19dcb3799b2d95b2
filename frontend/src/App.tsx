// The editor app: the workflow list, and one workflow's canvas (/editor/w/<id>).
import { useEffect, useState } from "react";
import { api, errorMessage } from "./api/client";
import { Editor } from "./Editor";
import { History } from "./live/History";
import { LiveView } from "./live/LiveView";

type Workflow = { id: number; slug: string; name: string; published_version: number | null; updated_at: string };

function navigate(path: string) {
  history.pushState(null, "", path);
  window.dispatchEvent(new PopStateEvent("popstate"));
}

function WorkflowList() {
  const [workflows, setWorkflows] = useState<Workflow[] | null>(null);
  const [slug, setSlug] = useState("");
  const [error, setError] = useState("");
  const [search, setSearch] = useState("");
  const load = () => api.GET("/api/v1/workflows", { params: { query: { search } } }).then(({ data }) => setWorkflows((data as Workflow[]) ?? []));
  useEffect(() => { load(); }, [search]);  // eslint-disable-line react-hooks/exhaustive-deps

  const create = async (e: React.FormEvent) => {
    e.preventDefault();
    const { data, error } = await api.POST("/api/v1/workflows", { body: { slug, name: slug } });
    if (error) setError(errorMessage(error));
    else navigate(`/editor/w/${data!.id}`);
  };
  return (
    <div className="list">
      <h1>Workflows</h1>
      <form onSubmit={create} className="create">
        <label>New workflow slug <input value={slug} onChange={(e) => setSlug(e.target.value)} placeholder="order-approval" /></label>
        <button type="submit">Create</button>
        {error && <span role="alert" className="error">{error}</span>}
      </form>
      <input type="search" aria-label="Search workflows" placeholder="Search" value={search} onChange={(e) => setSearch(e.target.value)} />
      {workflows === null ? <p className="muted">Loading…</p> : workflows.length === 0 ? (
        <p className="muted">No workflows yet: create one above, then drag nodes from the palette onto the canvas.</p>
      ) : (
        <ul>{workflows.map((w) => (
          <li key={w.id}><a href={`/editor/w/${w.id}`} onClick={(e) => { e.preventDefault(); navigate(`/editor/w/${w.id}`); }}>{w.name}</a>
            <span className="muted"> {w.slug} · {w.published_version ? `v${w.published_version} published` : "not published"}</span></li>))}
        </ul>
      )}
    </div>
  );
}

export function App() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const on = () => setPath(location.pathname);
    window.addEventListener("popstate", on);
    return () => window.removeEventListener("popstate", on);
  }, []);
  // Live progress: /editor/i/<instance> or /editor/w/<workflow>/i/<instance>; a workflow's instances at /editor/w/<workflow>/instances.
  const live = path.match(/^\/editor\/(?:w\/\d+\/)?i\/([\w-]+)/);
  if (live) return <LiveView instanceId={live[1]} />;
  const instances = path.match(/^\/editor\/w\/(\d+)\/instances/);
  if (instances) return <History workflowId={Number(instances[1])} />;
  const match = path.match(/^\/editor\/w\/(\d+)/);
  return match ? <Editor workflowId={Number(match[1])} /> : <WorkflowList />;
}
