// What the selected node did in the workflow's last run: its state, item count, error and output,
// with a link to the instance's live view. Shown above the node's form.
import { ErrorBox } from "../live/Inspector";
import { confirmLeave, navigate } from "../router";
import { itemCount, itemsLabel, type InstanceRun, type NodeRun } from "./lastRun";

const SHOWN_CHARS = 4000;

export function LastRun({ workflowId, run, nodeId, node }: { workflowId: number; run: InstanceRun; nodeId: string; node?: NodeRun }) {
  const href = `/editor/w/${workflowId}/i/${run.id}`;
  const text = node ? JSON.stringify(node.output, null, 2) ?? "" : "";
  const items = itemsLabel(itemCount(node));
  return (
    <section className="last-run" aria-label={`Last run of ${nodeId}`}>
      <h3>Last run <a href={href} onClick={(e) => { e.preventDefault(); if (confirmLeave()) navigate(href); }}>{new Date(run.created_at).toLocaleString()}</a></h3>
      {!node ? <p className="muted">Not reached in the last run.</p> : (<>
        <p className={`run-state run-${node.status}`}>{node.status}{items ? ` · ${items}` : ""}{node.given ? " · given data, not run" : ""}</p>
        {/* The API gives a step's error as {name, message, stack, frames}: its frames open the node's line. */}
        {node.error && (typeof node.error === "string" ? <p className="error">{node.error}</p> : <ErrorBox error={node.error} workflowId={workflowId} />)}
        {node.status === "complete" && (
          <pre className="run-output" aria-label={`Output of ${nodeId}`}>{text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text}</pre>
        )}
      </>)}
    </section>
  );
}
