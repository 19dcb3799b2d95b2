// The side panel of the selected node: its type, the problems found on it, its configuration form, and extra help below it (children).
import type { ReactNode } from "react";
import type { CatalogEntry } from "./api/client";
import { Form } from "./form/Form";

type Props = {
  id: string; spec: CatalogEntry; config: Record<string, unknown>; onChange: (c: Record<string, unknown>) => void;
  upstream: string[]; problems?: string[]; readOnly?: boolean; secretNames?: Set<string> | null; missing?: string[];
  children?: ReactNode;  // shown below the form (e.g. how to call a webhook trigger)
  lastRun?: ReactNode;  // shown above the form: what the node did in the workflow's last run
};

export function Panel({ id, spec, config, onChange, upstream, problems = [], readOnly = false, secretNames = null, missing = [], children, lastRun }: Props) {
  return (
    <aside className="panel" aria-label={`Configure ${id}`}>
      <h2>{spec.label} <code>{id}</code>{readOnly && <span className="muted"> (read-only)</span>}</h2>
      <p className="muted">{spec.description}</p>
      {problems.length > 0 && (
        <ul className="node-problems" aria-label={`Problems of ${id}`}>{problems.map((p, i) => <li key={i}>{p}</li>)}</ul>
      )}
      {missing.length > 0 && (
        <p className="node-problems missing-secret" role="alert">Secret {missing.join(", ")} is not set: every call will fail until it is.{" "}
          <a href="/editor/secrets" target="_blank" rel="noopener">Set it on the Secrets page</a></p>
      )}
      {upstream.length > 0 && !readOnly && (
        <p className="muted upstream">Upstream: {upstream.map((u) => <code key={u}>{u}</code>)} (type <code>steps.</code> in code for completions)</p>
      )}
      {lastRun}
      <Form key={id} nodeId={id} spec={spec} config={config} onChange={onChange} upstream={upstream} readOnly={readOnly} secretNames={secretNames} />
      {children}
    </aside>
  );
}
