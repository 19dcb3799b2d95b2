// A Gantt-like timeline of an instance's steps and attempts (plain SVG: one row per step record).
import { FINISHED, clockTime, duration, nodeOf, type LiveState, type StepView } from "./state";

const ROW = 22;
const LABEL = 120;
const WIDTH = 420;

function span(st: StepView, now: number, end: number): [number, number] {
  const stop = st.finishedAt ?? st.endedAt ?? (st.state === "succeeded" || st.state === "failed" ? st.startedAt : Math.min(now, end));
  return [st.startedAt, stop];
}

export function Timeline({ state, now, selected, onSelect }: {
  state: LiveState; now: number; selected: string | null; onSelect: (node: string) => void;
}) {
  const steps = state.steps.filter((s) => Number.isFinite(s.startedAt));
  const start = state.createdAt ?? state.startedAt ?? (steps.length ? Math.min(...steps.map((s) => s.startedAt)) : now);
  const end = FINISHED.includes(state.status) && state.finishedAt !== undefined ? state.finishedAt : now;
  const total = Math.max(1, end - start);
  const x = (t: number) => LABEL + ((Math.min(Math.max(t, start), end) - start) / total) * (WIDTH - LABEL - 8);
  const height = Math.max(1, steps.length) * ROW + 24;
  const ticks = [0, 1 / 3, 2 / 3, 1].map((f) => start + f * total);
  return (
    <section className="timeline" aria-label="Timeline">
      <h2>Timeline <span className="muted">from {clockTime(start)}, {duration(total)}</span></h2>
      {steps.length === 0 ? <p className="muted">No step has started yet.</p> : (
        <svg width={WIDTH} height={height} role="img" aria-label={`Timeline of ${steps.length} steps`}>
          {ticks.map((t, i) => (
            <g key={i} className="tick">
              <line x1={x(t)} x2={x(t)} y1={0} y2={height - 18} />
              <text x={x(t)} y={height - 4} textAnchor={i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"}>{i === 0 ? "0" : `+${duration(t - start)}`}</text>
            </g>
          ))}
          {steps.map((st, row) => {
            const y = row * ROW + 3;
            const [a, b] = span(st, now, end);
            const node = nodeOf(st.name);
            return (
              <g key={st.key} className={`row state-${st.state}${st.unconfirmed ? " unconfirmed" : ""}${selected === node ? " selected" : ""}`} onClick={() => onSelect(node)}
                 data-step={st.key}>
                <title>{`${st.key}: ${st.state}, ${duration(b - a)}`}</title>
                <rect className="hit" x={0} y={y - 2} width={WIDTH} height={ROW} />
                <text x={4} y={y + 13} className="label">{st.key.length > 16 ? `${st.key.slice(0, 15)}…` : st.key}</text>
                {st.kind === "do" && st.attempts.length ? st.attempts.map((at, i) => {
                  const to = at.finishedAt ?? (st.state === "running" ? Math.min(now, end) : at.startedAt);
                  const next = st.attempts[i + 1]?.startedAt ?? (st.state === "retrying" ? st.retryAt : undefined);
                  return (
                    <g key={at.number}>
                      <rect className={`bar ${at.error ? "attempt-failed" : at.finishedAt ? "attempt-ok" : "attempt-running"}`}
                            x={x(at.startedAt)} y={y} width={Math.max(3, x(to) - x(at.startedAt))} height={ROW - 6} rx={2}>
                        <title>{`attempt ${at.number}: ${at.error ? `${at.error.name}: ${at.error.message}` : at.finishedAt ? "ok" : "running"} (${duration(to - at.startedAt)})`}</title>
                      </rect>
                      {at.error && next !== undefined && (
                        <line className="backoff" x1={x(to)} x2={x(next)} y1={y + (ROW - 6) / 2} y2={y + (ROW - 6) / 2} />
                      )}
                    </g>
                  );
                }) : (
                  <rect className={`bar kind-${st.kind} state-${st.state}`} x={x(a)} y={y} width={Math.max(3, x(b) - x(a))} height={ROW - 6} rx={2} />
                )}
              </g>
            );
          })}
        </svg>
      )}
    </section>
  );
}
