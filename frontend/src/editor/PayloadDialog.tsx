// The test payload's editor (test data of Run). For a webhook trigger it is the test delivery's body:
// the instance gets {method, headers, query, body} like a real delivery.
import { CodeEditor } from "../code/CodeEditor";
import type { TestDeliveryState } from "./useTestDelivery";
import type { TestData } from "./useTestData";

type Props = { data: TestData; webhook: boolean; onRun: () => void; listener: TestDeliveryState; onRunDelivery: (d: Record<string, unknown>) => void };

export function PayloadDialog({ data, webhook, onRun, listener, onRunDelivery }: Props) {
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
      {webhook && <TestEvent listener={listener} onRun={onRunDelivery} />}
      <div className="payload-actions">
        <button onClick={onRun} disabled={!payload.ok} title={payload.ok ? "Save the draft and start an instance of it with this payload" : "Fix the payload first"}>Run with this payload</button>
        <button onClick={close}>Close</button>
      </div>
    </section>
  );
}

/** Listen for a real delivery to the test URL (signed like production ones) and run the draft with it. */
function TestEvent({ listener, onRun }: { listener: TestDeliveryState; onRun: (d: Record<string, unknown>) => void }) {
  const { state, error, listen, listening } = listener;
  const captured = state?.state === "captured" ? state.delivery : null;
  return (
    <div className="test-event" role="group" aria-label="Test event">
      <button onClick={listen} disabled={listening}>{listening ? "Listening…" : captured ? "Listen again" : "Listen for a test event"}</button>
      {error && <span className="error"> {error}</span>}
      {listening && state && (
        <p className="muted">Send a delivery to <code aria-label="Test URL">{`${location.origin}${state.url}`}</code>, signed as the trigger's
          auth requires (its curl example works with this URL); the next one is captured for 5 minutes.</p>
      )}
      {captured && (<>
        <p className="payload-state ok" aria-live="polite">Captured a {String(captured.method)} with {Object.keys((captured.headers as object) ?? {}).length} headers</p>
        <pre className="run-output" aria-label="Captured delivery">{JSON.stringify(captured, null, 2)}</pre>
        <button onClick={() => onRun(captured)}>Run with the captured delivery</button>
      </>)}
    </div>
  );
}
