import { describe, expect, it } from "vitest";
import { diagramOf } from "../code/diagram";
import { overlay } from "./programOverlay";
import { applyEvents, emptyState, type ProgressEvent } from "./state";

const PROGRAM = `export default async function run(event, step) {
  const a = await step.do("fetch", async () => 1);
  if (a > 5) { await step.do("big", async () => 2); } else { await step.sleep("rest", "1 second"); }
  await step.waitForEvent("approval", { type: "approve" });
}`;

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

describe("overlay", () => {
  it("puts each step record on its diagram node, ahead ones queued, untaken ones skipped at the end", () => {
    const d = diagramOf(PROGRAM).diagram!;
    const id = (name: string) => d.nodes.find((n) => n.name === name)!.id;
    const events: ProgressEvent[] = [
      { eventId: 1, type: "workflow_started", timestamp: at(0) },
      { eventId: 2, type: "step_started", step: "fetch", timestamp: at(1) },
      { eventId: 3, type: "attempt_started", step: "fetch", attempt: 1, timestamp: at(1) },
      { eventId: 4, type: "step_completed", step: "fetch", output: "1", timestamp: at(2) },
      { eventId: 5, type: "sleep_started", step: "rest", until: at(3), timestamp: at(2) },
    ];
    let state = applyEvents(emptyState(), events);
    let live = overlay(d, state);
    expect(live[id("fetch")].state).toBe("succeeded");
    expect(live[id("rest")].state).toBe("sleeping");
    expect(live[id("big")].state).toBe("queued");
    expect(live[id("approval")].state).toBe("queued");
    state = applyEvents(state, [{ eventId: 6, type: "workflow_terminated", timestamp: at(4) }]);
    live = overlay(d, state);
    expect(live[id("big")].state).toBe("skipped");
  });
});
