// The test payload's editor (test data of Run). For a webhook trigger it is the test delivery's body:
// the instance gets {method, headers, query, body} like a real delivery.
import { CodeEditor } from "../code/CodeEditor";
import type { TestData } from "./useTestData";

export function PayloadDialog({ data, webhook, onRun }: { data: TestData; webhook: boolean; onRun: () => void }) {
  const { params, setParams, payload, close } = data;
  return (
    <section id="payload-editor" className="payload-editor" role="dialog" aria-labelledby="payload-title"
             onKeyDown={(e) => { if (e.key === "Escape") close(); }}>
      <h2 id="payload-title">Payload for test runs</h2>
      <p className="muted">{webhook
        ? <>The body of a test delivery: the trigger's output is <code>{"{method, headers, query, body}"}</code> as for a real POST, so <code>input.body</code> is this JSON.</>
        : <>JSON given to the instance Run starts, as its params (<code>input</code> of the trigger).</>} Kept for this workflow in this browser.</p>
      <CodeEditor kind="json" label="Test payload" value={params} onChange={setParams} />
      <p className={payload.ok ? "payload-state ok" : "payload-state bad"} aria-live="polite">
        {payload.ok ? "✓ Valid JSON" : `Not JSON: ${payload.error}`}</p>
      <div className="payload-actions">
        <button onClick={onRun} disabled={!payload.ok} title={payload.ok ? "Save the draft and start an instance of it with this payload" : "Fix the payload first"}>Run with this payload</button>
        <button onClick={close}>Close</button>
      </div>
    </section>
  );
}
