// The Problems list under the canvas: the server's problems, each selecting its node on click.
import type { Problem } from "../api/client";

export function Problems({ problems, onSelect }: { problems: Problem[]; onSelect: (nodeId: string) => void }) {
  if (!problems.length) return null;
  return (
    <section className="problems" aria-label="Problems">
      <h2>Problems</h2>
      <ul>{problems.map((p, i) => (
        <li key={i}><button onClick={() => { if (p.node_id) onSelect(p.node_id); }}>{p.node_id ?? "workflow"}: {p.message}</button></li>))}</ul>
    </section>
  );
}
