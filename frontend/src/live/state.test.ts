import { describe as group, expect, it } from "vitest";
import type { NodeSpecFlags } from "../api/client";
import { applyEvents, chainOf, describe, emptyState, project, reduce, type ProgressEvent } from "./state";

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 12, 0, s)).toISOString();
let id = 0;
const ev = (type: string, extra: Partial<ProgressEvent> = {}, at = id): ProgressEvent => ({ eventId: ++id, type, timestamp: t(at), ...extra });

function history(): ProgressEvent[] {
  id = 0;
  return [
    ev("workflow_queued"), ev("workflow_started"),
    ev("step_started", { step: "prepare" }), ev("attempt_started", { step: "prepare", attempt: 1 }),
    ev("log", { step: "prepare", level: "log", message: "hello" }),
    ev("step_completed", { step: "prepare", attempt: 1, output: '{"n":2}' }),
    ev("step_started", { step: "flaky" }), ev("attempt_started", { step: "flaky", attempt: 1 }),
    ev("attempt_errored", { step: "flaky", attempt: 1, error: { name: "Error", message: "not yet" }, retryDelayMs: 2000 }),
    ev("workflow_waiting", { until: t(20) }),
    ev("attempt_started", { step: "flaky", attempt: 2 }),
    ev("step_completed", { step: "flaky", attempt: 2, output: "true" }),
    ev("sleep_started", { step: "nap", until: t(30) }), ev("workflow_waiting", { until: t(30) }),
    ev("sleep_completed", { step: "nap" }),
    ev("wait_started", { step: "manager", eventType: "approval:manager", timeout: t(99) }),
    ev("workflow_waiting", { until: t(99) }),
  ];
}

// The flags the node catalog gives these types (builder/nodes/): what the projection reads.
const SPECS: Record<string, NodeSpecFlags> = {
  manual: { trigger: true, step: false }, code: { step: true }, sleep: { step: true, passes_input: true },
  approval: { step: true, handle_from_output: "decision" }, loop: { step: false, body_handle: "body" },
};
const withSpecs = (nodes: { id: string; type: string }[]) => nodes.map((n) => ({ ...n, spec: SPECS[n.type] }));
const NODES = withSpecs([
  { id: "start", type: "manual" }, { id: "prepare", type: "code" }, { id: "flaky", type: "code" },
  { id: "nap", type: "sleep" }, { id: "manager", type: "approval" }, { id: "yes", type: "code" }, { id: "no", type: "code" },
]);
const EDGES = [
  { id: "a", source: "start", target: "prepare" }, { id: "b", source: "prepare", target: "flaky" },
  { id: "c", source: "flaky", target: "nap" }, { id: "d", source: "nap", target: "manager" },
  { id: "e", source: "manager", target: "yes", sourceHandle: "approved" }, { id: "f", source: "manager", target: "no", sourceHandle: "rejected" },
];

group("the live reducer", () => {
  it("folds a history into step states, attempts and logs", () => {
    const s = applyEvents(emptyState(), history());
    expect(s.status).toBe("waiting");
    expect(s.steps.map((x) => [x.name, x.state])).toEqual([["prepare", "succeeded"], ["flaky", "succeeded"], ["nap", "succeeded"], ["manager", "waiting"]]);
    expect(s.steps[1].attempts.map((a) => [a.number, a.error?.message])).toEqual([[1, "not yet"], [2, undefined]]);
    expect(s.logs.map((l) => l.message)).toEqual(["hello"]);
    expect(s.lastEventId).toBe(17);
  });

  it("shows a retry with its attempt and due time", () => {
    const s = applyEvents(emptyState(), history().slice(0, 10));
    const flaky = s.steps[1];
    expect(flaky.state).toBe("retrying");
    expect(flaky.retryAt).toBe(Date.parse(t(8)) + 2000);
    const p = project(NODES, EDGES, s);
    expect(describe(p.nodes.flaky, Date.parse(t(8)) + 500)).toBe("retrying · attempt 1 failed · next in 1.5 s");
  });

  it("converges whatever the delivery: duplicates, replays from any point, batches out of order", () => {
    const all = history();
    const straight = all.reduce(reduce, emptyState());
    // A client that lost its socket after event 7 and resynced with after=7; the server replays
    // 8.. and the seam repeats an event or two.
    const before = all.slice(0, 7).reduce(reduce, emptyState());
    const resynced = applyEvents(before, [...all.slice(5).reverse(), all[9], all[3]]);
    expect(resynced).toEqual(straight);
    // Hundreds of missed events at once.
    expect(applyEvents(emptyState(), [...all].reverse())).toEqual(straight);
  });

  it("takes the approval's handle, skips the other side and highlights the taken edges", () => {
    const all = history();
    const approved = applyEvents(emptyState(), [
      ...all, ev("wait_completed", { step: "manager", output: '{"type":"approval:manager","payload":{"decision":"approve","by":"ed"}}' }),
    ]);
    expect(approved.steps[3].state).toBe("succeeded");
    const finished = applyEvents(approved, [
      ev("step_started", { step: "yes" }), ev("step_completed", { step: "yes", attempt: 1, output: '"ok"' }),
      ev("workflow_completed", { output: '"ok"' }),
    ]);
    const p = project(NODES, EDGES, finished);
    expect(p.nodes.yes.state).toBe("succeeded");
    expect(p.nodes.no.state).toBe("skipped");
    expect(p.nodes.start.state).toBe("succeeded");
    expect(p.edges).toEqual({ a: true, b: true, c: true, d: true, e: true, f: false });
  });

  it("marks nodes not reached yet as queued while the instance runs", () => {
    const s = applyEvents(emptyState(), history().slice(0, 6));
    const p = project(NODES, EDGES, s);
    expect(p.nodes.prepare.state).toBe("succeeded");
    expect(p.nodes.flaky.state).toBe("queued");
    expect(p.nodes.yes.state).toBe("queued");
  });

  it("forgets the steps a restart deletes", () => {
    const s = applyEvents(emptyState(), history());
    const fromFlaky = reduce(s, { eventId: 18, type: "workflow_queued", timestamp: t(40), restart: true, from: "flaky" });
    expect(fromFlaky.steps.map((x) => x.name)).toEqual(["prepare"]);
    expect(fromFlaky.status).toBe("queued");
    const again = reduce(fromFlaky, { eventId: 19, type: "step_started", timestamp: t(41), step: "flaky" });
    expect(again.steps.map((x) => [x.key, x.state])).toEqual([["prepare", "succeeded"], ["flaky", "running"]]);
    const fromStart = reduce(s, { eventId: 18, type: "workflow_queued", timestamp: t(40), restart: true, from: null });
    expect(fromStart.steps).toEqual([]);
    expect(fromStart.logs).toEqual([]);
  });

  it("counts a reused step name as its next occurrence", () => {
    id = 0;
    const s = applyEvents(emptyState(), [
      ev("step_started", { step: "poll" }), ev("step_completed", { step: "poll", attempt: 1, output: "1" }),
      ev("step_started", { step: "poll" }), ev("step_completed", { step: "poll", attempt: 1, output: "2" }),
    ]);
    expect(s.steps.map((x) => [x.key, x.output])).toEqual([["poll", "1"], ["poll (2)", "2"]]);
  });
});

group("resync after hundreds of missed events", () => {
  it("applies a replay of 900 events in one batch and matches a client that saw each one", () => {
    id = 0;
    const all: ProgressEvent[] = [ev("workflow_queued"), ev("workflow_started")];
    for (let i = 0; i < 150; i++) {
      const step = `each[${i}]`;
      all.push(ev("step_started", { step }), ev("attempt_started", { step, attempt: 1 }),
               ev("log", { step, level: "log", message: `item ${i}` }), ev("step_completed", { step, attempt: 1, output: String(i) }),
               ev("log", { step: null, level: "log", message: `done ${i}` }), ev("workflow_waiting", { until: t(1) }));
    }
    const live = all.reduce(reduce, emptyState());
    const cutAt = 37;
    const missed = applyEvents(all.slice(0, cutAt).reduce(reduce, emptyState()), all.slice(cutAt - 5));
    expect(missed).toEqual(live);
    expect(missed.lastEventId).toBe(902);
    expect(missed.steps).toHaveLength(150);
    const p = project(withSpecs([{ id: "start", type: "manual" }, { id: "each", type: "loop" }]), [{ id: "x", source: "start", target: "each" }], missed);
    expect(p.nodes.each.state).toBe("succeeded");
    expect(p.nodes.each.steps).toHaveLength(150);
  });
});

group("code-first versions", () => {
  it("draw the steps as a chain in the order they began, a chain the projection can colour", () => {
    const s = applyEvents(emptyState(), history());
    const g = chainOf(s);
    expect(g.nodes.map((n) => [n.id, n.type])).toEqual([["prepare", "step"], ["flaky", "step"], ["nap", "sleep"], ["manager", "wait"]]);
    expect(g.edges.map((e) => `${e.source}>${e.target}`)).toEqual(["prepare>flaky", "flaky>nap", "nap>manager"]);
    const p = project(g.nodes, g.edges, s);
    expect(p.nodes.prepare.state).toBe("succeeded");
    expect(p.nodes.manager.state).toBe("waiting");
    expect(Object.values(p.edges)).toEqual([true, true, true]);
  });
});

group("ephemeral events (an attempt began or ended, not committed yet)", () => {
  const eph = (type: string, step: string, attempt: number, at: number): ProgressEvent =>
    ({ eventId: undefined as unknown as number, type, step, attempt, timestamp: t(at), ephemeral: true });

  it("shows an unconfirmed running step at once, its real duration, then the durable events replace it", () => {
    id = 0;
    let s = applyEvents(emptyState(), [ev("workflow_queued"), ev("workflow_started")]);
    s = applyEvents(s, [eph("attempt_running", "slow", 1, 1)]);
    expect(s.lastEventId).toBe(2);
    expect(s.steps[0]).toMatchObject({ name: "slow", state: "running", unconfirmed: true, startedAt: Date.parse(t(1)) });
    expect(describe({ state: "running", steps: s.steps, startedAt: s.steps[0].startedAt }, Date.parse(t(2)))).toContain("unconfirmed");
    s = applyEvents(s, [eph("attempt_ended", "slow", 1, 3)]);
    expect(describe({ state: "running", steps: s.steps, startedAt: s.steps[0].startedAt }, Date.parse(t(4)))).toBe("ran 2.0 s · saving…");
    s = applyEvents(s, [ev("step_started", { step: "slow" }, 1), ev("attempt_started", { step: "slow", attempt: 1 }, 1),
                        ev("step_completed", { step: "slow", attempt: 1, output: "1" }, 3)]);
    expect(s.steps).toHaveLength(1);
    expect(s.steps[0]).toMatchObject({ state: "succeeded", startedAt: Date.parse(t(1)), finishedAt: Date.parse(t(3)) });
    expect(s.steps[0].unconfirmed).toBeUndefined();
    // A late ephemeral event about that attempt changes nothing.
    expect(applyEvents(s, [eph("attempt_running", "slow", 1, 1)])).toEqual(s);
  });

  it("drops a step that never committed when the instance blocks or ends", () => {
    id = 0;
    let s = applyEvents(emptyState(), [ev("workflow_queued"), ev("workflow_started"), eph("attempt_running", "lost", 1, 1)]);
    expect(s.steps).toHaveLength(1);
    s = applyEvents(s, [ev("workflow_waiting", { until: t(9) })]);
    expect(s.steps).toHaveLength(0);
  });
});

group("test instances", () => {
  it("shows a seeded step as done with its given data, never as run", () => {
    const s = applyEvents(emptyState(), [
      ev("workflow_queued", {}),
      ev("step_completed", { step: "fetch", output: '{"price":2}', seeded: true }),
      ev("workflow_started", {}),
      ev("step_started", { step: "total" }), ev("attempt_started", { step: "total", attempt: 1 }),
      ev("step_completed", { step: "total", attempt: 1, output: "4" }),
    ]);
    const fetch = s.steps.find((x) => x.name === "fetch")!;
    expect([fetch.state, fetch.seeded, fetch.output, fetch.attempts.length]).toEqual(["succeeded", true, '{"price":2}', 0]);
    const p = project([{ id: "fetch", type: "code" }, { id: "total", type: "code" }], [{ id: "e", source: "fetch", target: "total" }], s);
    expect(describe(p.nodes.fetch, 0)).toBe("given data · not run");
    expect(describe(p.nodes.total, 0)).toMatch(/^succeeded/);
  });
});

group("rollbacks", () => {
  function saga(): ProgressEvent[] {
    id = 0;
    const step = (name: string, output: string) => [ev("step_started", { step: name }), ev("attempt_started", { step: name, attempt: 1 }),
                                                    ev("step_completed", { step: name, attempt: 1, output })];
    return [
      ev("workflow_queued"), ev("workflow_started"), ...step("reserve", "1"), ...step("charge", "2"),
      ev("step_started", { step: "ship" }), ev("attempt_started", { step: "ship", attempt: 1 }),
      ev("attempt_errored", { step: "ship", attempt: 1, error: { name: "Error", message: "no truck" } }),
      ev("step_errored", { step: "ship", attempt: 1, error: { name: "Error", message: "no truck" } }),
      ev("rollbacks_started", { reason: "errored", error: { name: "Error", message: "no truck" }, steps: ["charge", "reserve"] }),
      ev("rollback_started", { step: "charge", occurrence: 1 }), ev("rollback_attempt_started", { step: "charge", attempt: 1 }, 5),
      ev("rollback_attempt_errored", { step: "charge", attempt: 1, error: { name: "Error", message: "busy" }, retryDelayMs: 3000 }, 6),
    ];
  }

  it("marks each step's rollback and keeps the chain in the order the rollbacks ran", () => {
    let s = applyEvents(emptyState(), saga());
    expect(s.rollback).toMatchObject({ reason: "errored", chain: ["charge"] });
    expect(s.steps.find((x) => x.name === "charge")!.rollback).toMatchObject({ state: "retrying", attempts: 1, retryAt: Date.parse(t(6)) + 3000 });
    s = applyEvents(s, [ev("rollback_attempt_started", { step: "charge", attempt: 2 }), ev("rollback_completed", { step: "charge", attempt: 2 }),
                        ev("rollback_started", { step: "reserve", occurrence: 1 }), ev("rollback_attempt_started", { step: "reserve", attempt: 1 }),
                        ev("rollback_attempt_errored", { step: "reserve", attempt: 1, error: { name: "Error", message: "gone" } }),
                        ev("rollback_failed", { step: "reserve", attempt: 1, error: { name: "Error", message: "gone" } }),
                        ev("workflow_errored", { error: { name: "Error", message: "no truck" } })]);
    expect(s.rollback!.chain).toEqual(["charge", "reserve"]);
    expect(s.steps.map((x) => [x.name, x.state, x.rollback?.state])).toEqual([
      ["reserve", "succeeded", "failed"], ["charge", "succeeded", "done"], ["ship", "failed", undefined]]);
    const p = project(withSpecs([{ id: "reserve", type: "code" }, { id: "charge", type: "code" }, { id: "ship", type: "code" }]), [], s);
    expect(p.nodes.charge.rollback).toBe("done");
    expect(describe(p.nodes.charge, 0)).toMatch(/^succeeded.* · rolled back$/);
    expect(describe(p.nodes.reserve, 0)).toMatch(/ · rollback failed$/);
    // The same events replayed (a reconnect) give the same state; a restart clears the rollbacks.
    expect(applyEvents(s, saga())).toEqual(s);
    const restarted = applyEvents(s, [{ ...ev("workflow_queued", { restart: true, from: null }), eventId: s.lastEventId + 1 }]);
    expect(restarted.rollback).toBeUndefined();
  });

  it("takes a rollback attempt's ephemeral events as the rollback's, not as a new run of its step", () => {
    // The host's begin/end of the handler's attempt arrives before its committed end (a busy machine).
    const eph = (type: string, attempt: number, at: number): ProgressEvent =>
      ({ eventId: undefined as unknown as number, type, step: "charge", attempt, timestamp: t(at), ephemeral: true });
    let s = applyEvents(emptyState(), saga());
    s = applyEvents(s, [eph("attempt_running", 2, 7), eph("attempt_ended", 2, 8)]);
    expect(s.steps.filter((x) => x.name === "charge")).toHaveLength(1);
    s = applyEvents(s, [ev("rollback_attempt_started", { step: "charge", attempt: 2 }, 7),
                        ev("rollback_failed", { step: "charge", attempt: 2, error: { name: "Error", message: "down" } }, 8),
                        ev("workflow_errored", { error: { name: "Error", message: "no truck" } })]);
    expect(s.steps.map((x) => [x.name, x.state, x.rollback?.state])).toEqual([
      ["reserve", "succeeded", undefined], ["charge", "succeeded", "failed"], ["ship", "failed", undefined]]);
  });
});
