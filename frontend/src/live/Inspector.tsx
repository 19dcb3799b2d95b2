// What one node did in this instance: its input, output, error with stack, attempts and logs.
import { placeHref } from "../code/reveal";
import { navigate } from "../router";
import { ROLLBACK_TEXT, clockTime, describe, duration, nodeOf, parse, type Frame, type LiveState, type NodeLive, type StepError, type StepView } from "./state";

export type SnapshotStep = {
  name: string; occurrence: number; kind: string; status: string; attempts: number; output: unknown; error: StepError | null;
  started_at: string; finished_at: string | null;
};

function Json({ value }: { value: unknown }) {
  return <pre className="json">{value === undefined ? "—" : JSON.stringify(value, null, 2)}</pre>;
}

/** Where a frame is, in words: "node shape, code line 3, column 5" or "line 12, column 5". */
export function frameText(f: Frame): string {
  const at = f.line ? `line ${f.line}${f.column ? `, column ${f.column}` : ""}` : "";
  if (f.node) return `node ${f.node}${f.field ? `, ${f.field}` : ""}${at ? ` ${at}` : ""}`;
  return at || "workflow runtime";
}

/** An error with its stack; each frame the host placed opens that node and line (or that line of the program) in the editor. */
export function ErrorBox({ error, workflowId }: { error: StepError; workflowId?: number }) {
  const frames = Array.isArray(error.frames) ? error.frames : null;
  return (
    <div className="error-box" role="group" aria-label="Error">
      <strong>{error.name ?? "Error"}</strong>: {error.message}
      {frames && frames.length > 0 ? (
        <pre className="stack">{frames.map((f, i) => {
          const href = workflowId !== undefined ? placeHref(workflowId, f) : null;
          const text = `at ${f.function ? `${f.function} ` : ""}(${frameText(f)})`;
          return <span key={i}>{"    "}{href
            ? <a href={href} onClick={(e) => { e.preventDefault(); navigate(href); }} aria-label={`Open ${frameText(f)}`}>{text}</a>
            : text}{"\n"}</span>;
        })}</pre>
      ) : error.stack ? <pre className="stack">{String(error.stack)}</pre> : null}
    </div>
  );
}

/** The full output of a step record: from the REST snapshot when it has it, else the event's (maybe cut) text. */
export function fullOutput(st: StepView, snapshot: SnapshotStep[] | undefined): { value: unknown; cut: boolean } {
  const occurrence = Number(st.key.match(/ \((\d+)\)$/)?.[1] ?? 1);
  const row = snapshot?.find((s) => s.name === st.name && s.occurrence === occurrence && s.status === "complete");
  if (row) return { value: row.output, cut: false };
  return { value: st.truncated ? st.output : parse(st.output), cut: !!st.truncated };
}

export function Inspector({ instanceId, nodeId, type, live, input, state, snapshot, now, onClose, workflowId }: {
  instanceId: string; nodeId: string; type: string; live: NodeLive | undefined; input: unknown; state: LiveState;
  snapshot: SnapshotStep[] | undefined; now: number; onClose: () => void; workflowId?: number;
}) {
  const logs = state.logs.filter((l) => l.step !== null && nodeOf(l.step) === nodeId);
  return (
    <section className="inspector" aria-label={`Step ${nodeId}`}>
      <header>
        <h2>{nodeId} <span className="muted">{type}</span></h2>
        <button onClick={onClose} aria-label="Close step details">×</button>
      </header>
      <p className={`state-text state-${live?.state ?? "queued"}`}>{describe(live, now) || live?.state || "queued"}</p>
      <h3>Input</h3>
      <Json value={input} />
      {(live?.steps ?? []).map((st) => {
        const out = fullOutput(st, snapshot);
        return (
          <div key={st.key} className="record">
            {live!.steps.length > 1 && <h3>{st.key}</h3>}
            {st.state === "succeeded" && <>
              <h3>Output</h3>
              {out.cut ? <>
                <pre className="json">{String(out.value)}…</pre>
                <p className="muted">Cut at {String(out.value).length} of {st.size} characters: <a href={`/api/v1/instances/${instanceId}`} target="_blank" rel="noreferrer">the full value</a></p>
              </> : <Json value={out.value} />}
            </>}
            {st.error && <><h3>Error</h3><ErrorBox error={st.error} workflowId={workflowId} /></>}
            {st.kind === "do" && st.attempts.length > 0 && <>
              <h3>Attempts</h3>
              <table className="attempts">
                <thead><tr><th>#</th><th>Started</th><th>Took</th><th>Result</th></tr></thead>
                <tbody>{st.attempts.map((a) => (
                  <tr key={a.number} className={a.error ? "failed" : ""}>
                    <td>{a.number}</td><td>{clockTime(a.startedAt)}</td>
                    <td>{a.finishedAt !== undefined ? duration(a.finishedAt - a.startedAt) : "…"}</td>
                    <td>{a.error ? `${a.error.name}: ${a.error.message}${a.retryDelayMs != null ? ` (retry in ${duration(a.retryDelayMs)})` : ""}` : a.finishedAt !== undefined ? "ok" : "running"}</td>
                  </tr>))}</tbody>
              </table>
            </>}
            {st.rollback && <>
              <h3>Rollback</h3>
              <p data-rollback={st.rollback.state}>{ROLLBACK_TEXT[st.rollback.state]}{st.rollback.attempts > 1 ? ` · ${st.rollback.attempts} attempts` : ""}</p>
              {st.rollback.error && st.rollback.state !== "done" && <ErrorBox error={st.rollback.error} workflowId={workflowId} />}
            </>}
            {st.kind === "sleep" && <p>Sleeps until {clockTime(st.until)}</p>}
            {st.kind === "wait" && <p>Waits for <code>{st.eventType}</code>{st.until ? `, times out at ${new Date(st.until).toLocaleString()}` : ""}</p>}
          </div>
        );
      })}
      <h3>Logs</h3>
      {logs.length === 0 ? <p className="muted">No log lines.</p> : (
        <pre className="logs">{logs.map((l) => `${clockTime(l.at)} ${l.level} ${l.message}`).join("\n")}</pre>
      )}
    </section>
  );
}
