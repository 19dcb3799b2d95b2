// The selected node's test tools, in its panel: test it alone with its upstream nodes' earlier data,
// run the workflow up to it, and pin its output as test data (shown on the canvas with a pin mark).
import { useEffect, useState } from "react";
import { checkPayload } from "../payload";
import type { PartialRun } from "./partialRun";

type Props = {
  nodeId: string; plan: PartialRun["plan"]; busy: boolean;
  pinned: boolean; pinnedValue: unknown; lastOutput: { output: unknown } | null;
  onTest: () => void; onUpTo: () => void; onPin: (output: unknown) => void; onUnpin: () => void;
};

const SOURCE_LABEL = { pinned: "pinned data", "last run": "last run's output", runs: "runs again", "test payload": "test payload" };

export function TestNode({ nodeId, plan, busy, pinned, pinnedValue, lastOutput, onTest, onUpTo, onPin, onUnpin }: Props) {
  const [text, setText] = useState("");
  // The editable pin data starts as what is pinned, else the node's last output.
  useEffect(() => {
    const start = pinned ? pinnedValue : lastOutput?.output;
    setText(start === undefined ? "" : JSON.stringify(start, null, 2));
  }, [nodeId, pinned, pinnedValue, lastOutput]);
  const parsed = checkPayload(text);
  return (
    <section className="test-node" aria-label={`Test ${nodeId}`}>
      <h3>Test {pinned && <span className="pin-mark" aria-label="pinned">📌 pinned</span>}</h3>
      <div className="test-buttons">
        <button onClick={onTest} disabled={busy} title="Runs this node alone, with the upstream nodes' pinned data or last-run output">Test this node</button>
        <button onClick={onUpTo} disabled={busy} title="Runs the workflow from the trigger up to this node, then stops">Run up to here</button>
      </div>
      {plan.length > 0 && (
        <ul className="test-plan muted" aria-label={`Input of a test of ${nodeId}`}>
          {plan.map((p) => <li key={p.node}><code>{p.node}</code>: {SOURCE_LABEL[p.source]}</li>)}
        </ul>
      )}
      <label className="pin-data">Test data (JSON) {pinned ? "pinned for" : "to pin for"} {nodeId}
        <textarea value={text} onChange={(e) => setText(e.target.value)} rows={4} spellCheck={false}
                  aria-label={`Pinned data of ${nodeId}`} />
      </label>
      <div className="test-buttons">
        <button onClick={() => parsed.ok && onPin(parsed.value)} disabled={busy || !parsed.ok || !text.trim()}>{pinned ? "Update pin" : "Pin this data"}</button>
        {pinned && <button onClick={onUnpin} disabled={busy}>Unpin</button>}
      </div>
      {!parsed.ok && text.trim() && <p className="error">Not JSON: {parsed.error}</p>}
    </section>
  );
}
