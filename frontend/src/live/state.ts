// The live state of one instance: a pure reducer over the engine's progress events.
//
// Invariants:
// - Folding the same events in eventId order always gives the same state, and an event whose
//   eventId is not above the last one applied is ignored; so a replay after a reconnect (with
//   `after=lastEventId`, or even from 0) converges to what a client that never disconnected shows.
// - The REST snapshot (GET /instances/<id>) only adds what events do not carry (full outputs,
//   params, version); it never moves a step's state, so it cannot disagree with the event log.
// - Ephemeral events (`ephemeral: true`, no eventId: an attempt began or ended in the sandbox, by
//   the host's clock, before its batch is committed) only make or mark an `unconfirmed` step; the
//   durable events replace them, and a finished or blocked instance drops what stayed unconfirmed
//   (its batch never committed: the attempt runs again). They never move lastEventId.
// - What the projection knows of a node's behaviour comes from its type's spec flags (node.spec,
//   from the node catalog), never from its type name.
// No React and no I/O here: unit-tested in state.test.ts.
import type { NodeSpecFlags } from "../api/client";

export type ProgressEvent = {
  eventId: number; type: string; timestamp: string; step?: string | null; attempt?: number | null;
  output?: string | null; truncated?: boolean; size?: number; error?: StepError | null; retryDelayMs?: number;
  until?: string; eventType?: string; timeout?: string; level?: string; message?: string;
  restart?: boolean; from?: string | null; ephemeral?: boolean;
  seeded?: boolean;  // step_completed of a test instance's step given its data (pinned or earlier): it never ran
  // Saga rollbacks: why the phase began, the steps it undoes (in order), which occurrence a rollback is of.
  reason?: string; steps?: string[]; occurrence?: number;
};
/** A stack frame as the host placed it (engine/sourcemap.py): a code-first program's line and column, or a drawn node's field and line. */
export type Frame = { function?: string; node?: string; field?: string; line?: number; column?: number };
export type StepError = { name?: string; message?: string; stack?: string; frames?: Frame[] } & Record<string, unknown>;

export type StepState = "queued" | "running" | "retrying" | "sleeping" | "waiting" | "succeeded" | "failed" | "skipped";
/** A step's rollback (its undo handler, run when the instance failed or was terminated with rollback). */
export type RollbackState = "running" | "retrying" | "done" | "failed";
export type RollbackView = { state: RollbackState; attempts: number; error?: StepError; retryAt?: number };
export type AttemptView = { number: number; startedAt: number; finishedAt?: number; error?: StepError; retryDelayMs?: number };
export type StepView = {
  key: string;  // the step name, or "name (n)" for a later occurrence of the same name
  name: string;
  kind: "do" | "sleep" | "wait";
  state: StepState;
  startedAt: number;
  finishedAt?: number;
  attempts: AttemptView[];
  retryAt?: number;  // retrying: when the next attempt is due
  until?: number;  // sleeping: when it wakes; waiting: when the wait times out
  eventType?: string;  // waiting: the event type it waits for
  output?: string | null;  // JSON text (a preview when truncated)
  truncated?: boolean;
  size?: number;
  error?: StepError;
  timedOut?: boolean;
  unconfirmed?: boolean;  // seen only by ephemeral events: not committed yet
  endedAt?: number;  // unconfirmed: when its attempt ended in the sandbox
  ephemeralOnly?: boolean;  // made by an ephemeral event: no durable event has named it yet
  seeded?: boolean;  // a test instance gave it its data (pinned, or an earlier run's): it did not run
  rollback?: RollbackView;  // its rollback, once the rollback phase reached it
};
export type LogLine = { eventId: number; at: number; step: string | null; level: string; message: string };
export type InstanceStatus = "unknown" | "queued" | "running" | "paused" | "waiting" | "waitingForPause" | "errored" | "terminated" | "complete";

export type LiveState = {
  lastEventId: number;
  status: InstanceStatus;
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  wakeAt?: number;
  output?: string | null;
  error?: StepError;
  steps: StepView[];  // in the order they began
  latest: Record<string, number>;  // step name -> index in steps of its latest occurrence
  logs: LogLine[];
  restarts: number;
  // The rollback phase, once begun: why, the error its handlers get, and the chain of step keys
  // in the order their rollbacks run (latest-started step first).
  rollback?: { reason: string; error?: StepError; chain: string[] };
};

export const MAX_LOG_LINES = 2000;

export function emptyState(): LiveState {
  return { lastEventId: 0, status: "unknown", steps: [], latest: {}, logs: [], restarts: 0 };
}

const STATUS_OF: Record<string, InstanceStatus> = {
  workflow_queued: "queued", workflow_started: "running", workflow_paused: "paused", workflow_waiting: "waiting",
  workflow_completed: "complete", workflow_errored: "errored", workflow_terminated: "terminated",
};
export const FINISHED: InstanceStatus[] = ["complete", "errored", "terminated"];

const time = (iso: string | undefined) => (iso ? Date.parse(iso) : NaN);

/** Apply a batch of events (in any order, with duplicates): the result is the same as applying them one by one in eventId order. */
export function applyEvents(state: LiveState, events: ProgressEvent[]): LiveState {
  const fresh = events.filter((e) => !e.ephemeral && e.eventId > state.lastEventId).sort((a, b) => a.eventId - b.eventId);
  // Ephemeral events after the durable ones of the batch: those win where they say the same.
  return events.filter((e) => e.ephemeral).reduce(ephemeral, fresh.reduce(reduce, state));
}

/** An attempt began (`attempt_running`) or ended (`attempt_ended`), not committed yet. */
export function ephemeral(state: LiveState, e: ProgressEvent): LiveState {
  const name = e.step;
  const at = time(e.timestamp);
  if (!name || e.attempt == null || FINISHED.includes(state.status)) return state;
  // In the rollback phase nothing of the program runs: an attempt there is a rollback handler's,
  // which its durable events show (read as a new run of that step, it made a phantom step that
  // took the rollback's end and went with it).
  if (state.rollback) return state;
  const index = state.latest[name];
  const st = index === undefined ? undefined : state.steps[index];
  const fresh = !st || (st.finishedAt !== undefined && at >= st.finishedAt);  // a step (occurrence) not seen yet
  const seen = fresh ? undefined : st!.attempts.find((a) => a.number === e.attempt);
  if (seen && !st!.unconfirmed && (seen.finishedAt !== undefined || e.type === "attempt_running")) {
    return state;  // the durable events already said it
  }
  const s = { ...state, status: state.status === "queued" || state.status === "unknown" || state.status === "waiting" ? "running" as const : state.status };
  if (e.type === "attempt_running") {
    const base = fresh ? begin(s, name, { kind: "do", state: "running", startedAt: at, attempts: [], ephemeralOnly: true }) : s;
    return update(base, name, (x) => ({
      ...x, state: "running", unconfirmed: true, endedAt: undefined, retryAt: undefined,
      attempts: [...x.attempts.filter((a) => a.number !== e.attempt), { number: e.attempt!, startedAt: at }],
    }));
  }
  if (e.type === "attempt_ended" && st?.unconfirmed) {
    return update(s, name, (x) => ({ ...x, endedAt: at, attempts: x.attempts.map((a) => (a.number === e.attempt ? { ...a, finishedAt: at } : a)) }));
  }
  return state;
}

function dropUnconfirmed(s: LiveState): LiveState {
  if (!s.steps.some((x) => x.unconfirmed)) return s;
  // Steps only ephemeral events made go; a durable step keeps its rows (the next events say more).
  const steps = s.steps.filter((x) => !x.ephemeralOnly).map((x) => (x.unconfirmed ? { ...x, unconfirmed: undefined, endedAt: undefined } : x));
  const latest: Record<string, number> = {};
  steps.forEach((x, i) => { latest[x.name] = i; });
  return { ...s, steps, latest };
}

export function reduce(state: LiveState, e: ProgressEvent): LiveState {
  if (e.ephemeral) return ephemeral(state, e);
  if (e.eventId <= state.lastEventId) return state;  // already applied (replayed at a seam)
  const at = time(e.timestamp);
  const s: LiveState = { ...state, lastEventId: e.eventId };
  const status = STATUS_OF[e.type];
  if (status) {
    s.status = status;
    if (e.type === "workflow_queued") {
      s.createdAt ??= at;
      if (e.restart) return restart(s, e.from ?? null);
    } else if (e.type === "workflow_started") {
      s.startedAt ??= at;
    } else if (e.type === "workflow_waiting") {
      s.wakeAt = time(e.until);
    } else if (e.type === "workflow_completed") {
      s.finishedAt = at;
      s.output = e.output ?? null;
    } else if (e.type === "workflow_errored") {
      s.finishedAt = at;
      s.error = e.error ?? undefined;
    } else if (e.type === "workflow_terminated") {
      s.finishedAt = at;
    }
    if (status !== "waiting") s.wakeAt = undefined;
    return status === "running" || status === "queued" ? s : dropUnconfirmed(s);
  }
  if (e.type === "log") {
    const logs = [...s.logs, { eventId: e.eventId, at, step: e.step ?? null, level: e.level ?? "log", message: e.message ?? "" }];
    s.logs = logs.length > MAX_LOG_LINES ? logs.slice(logs.length - MAX_LOG_LINES) : logs;
    return s;
  }
  if (e.type === "rollbacks_started") {
    s.rollback = { reason: e.reason ?? "errored", error: e.error ?? undefined, chain: [] };
    return s;
  }
  const name = e.step;
  if (!name) return s;
  if (e.type.startsWith("rollback_")) return rollingBack(s, name, e, at);
  if (s.status === "queued" || s.status === "unknown") s.status = "running";
  s.startedAt ??= at;
  if (s.latest[name] !== undefined && s.steps[s.latest[name]].unconfirmed) {
    s.steps = s.steps.map((x, i) => (i === s.latest[name] ? { ...x, unconfirmed: undefined, endedAt: undefined, ephemeralOnly: undefined } : x));
  }
  switch (e.type) {
    case "step_started":
      return begin(s, name, { kind: "do", state: "running", startedAt: at, attempts: [] });
    case "sleep_started":
      return begin(s, name, { kind: "sleep", state: "sleeping", startedAt: at, attempts: [], until: time(e.until) });
    case "wait_started":
      return begin(s, name, { kind: "wait", state: "waiting", startedAt: at, attempts: [], until: time(e.timeout), eventType: e.eventType });
    case "attempt_started":
      return update(s, name, (st) => ({
        ...st, state: "running", retryAt: undefined,
        attempts: [...st.attempts.filter((a) => a.number !== e.attempt), { number: e.attempt ?? st.attempts.length + 1, startedAt: at }],
      }));
    case "attempt_errored":
      return update(s, name, (st) => {
        const attempts = finishAttempt(st.attempts, e.attempt, at, { error: e.error ?? undefined, retryDelayMs: e.retryDelayMs });
        return e.retryDelayMs == null
          ? { ...st, attempts, error: e.error ?? undefined }
          : { ...st, attempts, state: "retrying", error: e.error ?? undefined, retryAt: at + e.retryDelayMs };
      });
    case "step_completed":
      if (e.seeded) {
        return update(s, name, (st) => ({ ...st, state: "succeeded", seeded: true, startedAt: at, finishedAt: at, output: e.output ?? null,
                                          truncated: !!e.truncated, size: e.size }));
      }
      return update(s, name, (st) => ({
        ...st, state: "succeeded", finishedAt: at, retryAt: undefined, output: e.output ?? null, truncated: !!e.truncated, size: e.size,
        attempts: finishAttempt(st.attempts, e.attempt, at, {}),
      }));
    case "step_errored":
      return update(s, name, (st) => ({ ...st, state: "failed", finishedAt: at, retryAt: undefined, error: e.error ?? st.error }));
    case "sleep_completed":
      return update(s, name, (st) => ({ ...st, state: "succeeded", finishedAt: at }));
    case "wait_completed":
      return update(s, name, (st) => ({ ...st, state: "succeeded", finishedAt: at, output: e.output ?? null, truncated: !!e.truncated, size: e.size }));
    case "wait_timed_out":
      return update(s, name, (st) => ({ ...st, state: "failed", finishedAt: at, error: e.error ?? undefined, timedOut: true }));
    default:
      return s;
  }
}

/** A rollback event of step `name` (its `occurrence`): the step's rollback view and the chain. */
function rollingBack(s: LiveState, name: string, e: ProgressEvent, at: number): LiveState {
  const rows = s.steps.map((x, i) => [x, i] as const).filter(([x]) => x.name === name && !x.ephemeralOnly);
  const found = rows[(e.occurrence ?? 0) - 1] ?? rows[rows.length - 1];
  if (!found) return s;
  const [step, index] = found;
  const before: RollbackView = step.rollback ?? { state: "running", attempts: 0 };
  let view: RollbackView;
  switch (e.type) {
    case "rollback_started":
    case "rollback_attempt_started":
      view = { ...before, state: "running", retryAt: undefined, attempts: Math.max(before.attempts, e.attempt ?? before.attempts) };
      break;
    case "rollback_attempt_errored":
      view = { ...before, error: e.error ?? undefined, ...(e.retryDelayMs == null ? {} : { state: "retrying", retryAt: at + e.retryDelayMs }) };
      break;
    case "rollback_completed":
      view = { ...before, state: "done", retryAt: undefined };
      break;
    case "rollback_failed":
      view = { ...before, state: "failed", retryAt: undefined, error: e.error ?? before.error };
      break;
    default:
      return s;
  }
  const steps = s.steps.slice();
  steps[index] = { ...step, rollback: view };
  const phase = s.rollback ?? { reason: "errored", chain: [] };
  const chain = phase.chain.includes(step.key) ? phase.chain : [...phase.chain, step.key];
  return { ...s, steps, rollback: { ...phase, chain } };
}

function finishAttempt(attempts: AttemptView[], number: number | null | undefined, at: number, extra: Partial<AttemptView>): AttemptView[] {
  const n = number ?? attempts[attempts.length - 1]?.number;
  if (n == null) return attempts;
  const found = attempts.some((a) => a.number === n);
  // An attempt whose start was not seen (it began and ended in one commit) still gets a bar.
  const list = found ? attempts : [...attempts, { number: n, startedAt: at }];
  return list.map((a) => (a.number === n ? { ...a, finishedAt: at, ...extra } : a));
}

function begin(s: LiveState, name: string, view: Omit<StepView, "key" | "name">): LiveState {
  const index = s.latest[name];
  const previous = index === undefined ? undefined : s.steps[index];
  // The same name again after it finished is its next occurrence (a program may reuse a name).
  const occurrence = previous && (previous.state === "succeeded" || previous.state === "failed")
    ? s.steps.filter((x) => x.name === name).length + 1 : previous ? null : 1;
  if (occurrence === null) return update(s, name, (st) => ({ ...st, ...view, attempts: st.attempts }));
  const step: StepView = { key: occurrence === 1 ? name : `${name} (${occurrence})`, name, ...view };
  return { ...s, steps: [...s.steps, step], latest: { ...s.latest, [name]: s.steps.length } };
}

function update(s: LiveState, name: string, f: (st: StepView) => StepView): LiveState {
  let index = s.latest[name];
  if (index === undefined) {  // its start was before a restart point we did not see: make a row
    s = begin(s, name, { kind: "do", state: "running", startedAt: NaN, attempts: [] });
    index = s.latest[name];
  }
  const steps = s.steps.slice();
  steps[index] = f(steps[index]);
  return { ...s, steps };
}

/** A restart deletes the step records from `from` (all of them without it), as the engine does. */
function restart(s: LiveState, from: string | null): LiveState {
  const cut = from === null ? 0 : s.steps.findIndex((x) => x.name === from);
  const steps = cut < 0 ? s.steps : s.steps.slice(0, cut);
  const latest: Record<string, number> = {};
  steps.forEach((x, i) => { latest[x.name] = i; });
  return {
    ...s, steps: steps.map((x) => (x.rollback ? { ...x, rollback: undefined } : x)), latest, status: "queued",
    finishedAt: undefined, output: undefined, error: undefined, wakeAt: undefined, rollback: undefined,
    logs: from === null ? [] : s.logs, restarts: s.restarts + 1,
  };
}

// ---- projection onto a graph --------------------------------------------------------------------

/** A node as the projection sees it: `spec` holds its type's flags from the node catalog (what it
 *  knows of a node's behaviour, never from its type name); a node without one is a plain step. */
export type GraphNodeLike = { id: string; type: string; data?: Record<string, unknown>; spec?: NodeSpecFlags };
export type GraphEdgeLike = { id: string; source: string; target: string; sourceHandle?: string | null };
export type NodeLive = {
  state: StepState;
  steps: StepView[];  // its step records (several for a node inside a loop body: id[0], id[1]...)
  startedAt?: number;
  finishedAt?: number;
  rollback?: RollbackState;  // its steps' rollbacks, the most pressing (a loop body has several)
};

const ROLLBACK_RANK: RollbackState[] = ["failed", "running", "retrying", "done"];
function rollbackOf(steps: StepView[]): RollbackState | undefined {
  const states = steps.map((x) => x.rollback?.state).filter((x): x is RollbackState => !!x);
  return states.sort((a, b) => ROLLBACK_RANK.indexOf(a) - ROLLBACK_RANK.indexOf(b))[0];
}

/** The node a step belongs to: step names are node ids, `id[index]` inside a loop body. */
export function nodeOf(stepName: string): string {
  const i = stepName.indexOf("[");
  return i < 0 ? stepName : stepName.slice(0, i);
}

const RANK: StepState[] = ["failed", "running", "retrying", "waiting", "sleeping", "queued", "succeeded", "skipped"];

export function combine(steps: StepView[]): StepState {
  // A node with several records (a loop body) shows its most pressing state.
  return steps.map((x) => x.state).sort((a, b) => RANK.indexOf(a) - RANK.indexOf(b))[0];
}

/** The output handle a finished node took, when its output says it; null when it has one output. */
export function takenHandle(node: GraphNodeLike, live: NodeLive | undefined): string | null | undefined {
  const last = live?.steps[live.steps.length - 1];
  const from = node.spec?.handle_from_output;
  if (!last || live!.state !== "succeeded" && !(from === "decision" && last.timedOut)) return undefined;
  const value = parse(last.output);
  if (node.spec?.body_handle) return undefined;  // a loop: its body and done handles both run
  switch (from) {
    case "boolean": return value ? "true" : "false";
    case "value": return typeof value === "string" ? value : undefined;
    case "decision": {
      // The wait's output is the event received: { type, payload: { decision, by }, timestamp }.
      const received = value as { payload?: { decision?: string } } | undefined;
      const decision = last.timedOut ? (node.data?.default_decision ?? "reject") : received?.payload?.decision;
      return decision === "approve" ? "approved" : "rejected";
    }
    default: return null;
  }
}

export function parse(text: string | null | undefined): unknown {
  if (text == null) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

/**
 * Each node's state and each edge's "taken" flag, from the steps seen so far.
 * A node without a step record is: succeeded if it is a trigger or a pass-through node (merge, loop)
 * whose flow went on; skipped if every input has settled without one being taken (or the instance
 * finished without reaching it); queued otherwise.
 */
export function project(nodes: GraphNodeLike[], edges: GraphEdgeLike[], state: LiveState) {
  const byNode: Record<string, StepView[]> = {};
  for (const st of state.steps) (byNode[nodeOf(st.name)] ??= []).push(st);
  const live: Record<string, NodeLive> = {};
  const started = state.status !== "unknown" && (state.status !== "queued" || state.steps.length > 0 || state.startedAt !== undefined);
  const finished = FINISHED.includes(state.status);
  const incoming = (id: string) => edges.filter((e) => e.target === id);
  const outgoing = (id: string) => edges.filter((e) => e.source === id);
  const taken: Record<string, boolean> = {};

  // Nodes with records first, then the others in an order where sources come before targets.
  for (const n of nodes) {
    const steps = byNode[n.id];
    if (steps?.length) {
      const finishedAt = steps.every((x) => x.finishedAt !== undefined) ? Math.max(...steps.map((x) => x.finishedAt!)) : undefined;
      live[n.id] = { state: combine(steps), steps, startedAt: Math.min(...steps.map((x) => x.startedAt).filter((t) => !Number.isNaN(t))), finishedAt,
                     rollback: rollbackOf(steps) };
    }
  }
  const reached = (id: string): boolean => !!live[id] && live[id].state !== "skipped" && live[id].state !== "queued";
  const resolving = new Set<string>();
  const resolve = (n: GraphNodeLike): NodeLive => {
    if (live[n.id]) return live[n.id];
    if (resolving.has(n.id)) return { state: "queued", steps: [] };  // a cycle (invalid graph): stop
    resolving.add(n.id);
    let result: NodeLive;
    const ins = incoming(n.id);
    if (n.spec?.trigger || ins.length === 0) {
      result = { state: started ? "succeeded" : "queued", steps: [], startedAt: state.startedAt, finishedAt: state.startedAt };
    } else {
      const downstreamRan = outgoing(n.id).some((e) => reached(e.target));
      const sources = ins.map((e) => ({ e, src: resolve(nodes.find((x) => x.id === e.source) ?? { id: e.source, type: "?" }) }));
      const anyTaken = sources.some(({ e, src }) => edgeTaken(e, src));
      const allSettled = sources.every(({ src }) => src.state === "succeeded" || src.state === "skipped" || src.state === "failed");
      if (downstreamRan || (anyTaken && n.spec?.step === false && allSettled)) {
        result = { state: "succeeded", steps: [] };
      } else if ((allSettled && !anyTaken) || finished) {
        result = { state: "skipped", steps: [] };
      } else {
        result = { state: "queued", steps: [] };
      }
    }
    resolving.delete(n.id);
    live[n.id] = result;
    return result;
  };
  const edgeTaken = (e: GraphEdgeLike, src: NodeLive): boolean => {
    if (src.state !== "succeeded" && !(src.steps.length && src.steps[src.steps.length - 1].timedOut)) return false;
    const node = nodes.find((x) => x.id === e.source);
    const handle = node ? takenHandle(node, src) : undefined;
    const body = node?.spec?.body_handle;
    if (handle === undefined || body) {
      // Unknown from the output (e.g. a loop's body/done): taken if the target was reached.
      return reached(e.target) || (!!body && e.sourceHandle !== body && src.state === "succeeded" && !!live[e.target]);
    }
    return handle === null || !e.sourceHandle || e.sourceHandle === handle;
  };
  for (const n of nodes) resolve(n);
  for (const e of edges) taken[e.id] = live[e.source] ? edgeTaken(e, live[e.source]) : false;
  return { nodes: live, edges: taken };
}

export type Graph = { nodes: (GraphNodeLike & { position: { x: number; y: number } })[]; edges: GraphEdgeLike[] };

/** A code-first version has no graph: its step names (loop items folded), in the order they began, make a chain. */
export function chainOf(state: LiveState): Graph {
  const names = [...new Set(state.steps.map((s) => nodeOf(s.name)))];
  const kind = (n: string) => state.steps.find((s) => nodeOf(s.name) === n)!.kind;
  return {
    nodes: names.map((n, i) => ({ id: n, type: kind(n) === "do" ? "step" : kind(n), position: { x: 0, y: i * 110 }, data: {},
                                  spec: { passes_input: kind(n) === "sleep" } })),
    edges: names.slice(1).map((n, i) => ({ id: `chain-${i}`, source: names[i], target: n })),
  };
}

// ---- text for people ----------------------------------------------------------------------------

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} min`;
  return `${Math.floor(ms / 86_400_000)} d ${Math.round((ms % 86_400_000) / 3_600_000)} h`;
}

export function clockTime(at: number | undefined): string {
  return at === undefined || Number.isNaN(at) ? "" : new Date(at).toLocaleTimeString();
}

export const ROLLBACK_TEXT: Record<RollbackState, string> = {
  running: "rolling back", retrying: "rollback retrying", done: "rolled back", failed: "rollback failed",
};

/** One line for a node's badge: "retrying · attempt 2 · next in 4 s", "sleeping until 14:03:22",
 *  "succeeded · rolled back"... */
export function describe(live: NodeLive | undefined, now: number): string {
  if (!live) return "";
  const text = describeRun(live, now);
  return live.rollback ? `${text} · ${ROLLBACK_TEXT[live.rollback]}` : text;
}

function describeRun(live: NodeLive, now: number): string {
  const last = live.steps[live.steps.length - 1];
  const attempt = last?.attempts.length ? last.attempts[last.attempts.length - 1].number : undefined;
  const took = live.startedAt !== undefined && Number.isFinite(live.startedAt)
    ? duration((live.finishedAt ?? now) - live.startedAt) : "";
  const count = live.steps.length > 1 ? ` · ${live.steps.filter((x) => x.state === "succeeded").length}/${live.steps.length}` : "";
  switch (live.state) {
    case "running":
      if (last?.unconfirmed && last.endedAt !== undefined) return `ran ${duration(last.endedAt - last.startedAt)} · saving…`;
      return `running${attempt && attempt > 1 ? ` · attempt ${attempt}` : ""}${count}${took ? ` · ${took}` : ""}${last?.unconfirmed ? " · unconfirmed" : ""}`;
    case "retrying": return `retrying · attempt ${attempt ?? 1} failed · next in ${duration(Math.max(0, (last?.retryAt ?? now) - now))}`;
    case "sleeping": return `sleeping until ${clockTime(last?.until)}`;
    case "waiting": return `waiting for ${last?.eventType ?? "an event"}`;
    case "succeeded":
      if (last?.seeded) return "given data · not run";
      return `succeeded${attempt && attempt > 1 ? ` · ${attempt} attempts` : ""}${count}${took ? ` · ${took}` : ""}`;
    case "failed": return `${last?.timedOut ? "timed out" : "failed"}${attempt ? ` · ${attempt} attempt${attempt > 1 ? "s" : ""}` : ""}${took ? ` · ${took}` : ""}`;
    default: return live.state;
  }
}
