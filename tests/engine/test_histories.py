"""Replay tests from stored histories, as Temporal's: each `histories/*.json` holds a program, an
instance's step records as a run of it left them (sleeping, waiting for an event, retrying), and
what must follow. Each is loaded into a fresh instance and
- checked (engine.deploycheck) against its own program: it continues; against each listed change:
  the stated verdict;
- advanced to the end by the engine as it is now: same outcome and step sequence as recorded.
A change to the engine or the step runtime that would replay an old history differently fails here.

Recording (when a program or the engine's record format changes on purpose):
`RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/engine/test_histories.py -k record`.
"""
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from builder.services import version_create_from_code
from engine import services
from engine.deploycheck import instance_check
from engine.models import Instance, StepRecord

HERE = Path(__file__).parent / "histories"
FILES = sorted(HERE.glob("*.json"))
FIELDS = ("name", "occurrence", "kind", "status", "attempts", "config", "output", "error", "wake_at", "started_at", "finished_at")


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def load(history, tenant, make_workflow, clock):
    """A fresh instance holding the history's records, due when the history says."""
    clock.set(datetime.fromisoformat(history["created_at"]))
    wf = make_workflow(history["program"], slug="history")
    inst = services.instance_create(tenant=tenant, workflow=wf, id=history["key"], params=history["params"])
    StepRecord.objects.bulk_create([
        StepRecord(tenant=tenant, instance=inst, **{k: (datetime.fromisoformat(v) if k.endswith("_at") and v else v)
                                                    for k, v in row.items()})
        for row in history["steps"]])
    Instance.objects.filter(pk=inst.pk).update(
        status="waiting", started_at=clock.now(), due_at=datetime.fromisoformat(history["due_at"]),
        wait_types=history.get("wait_types"))
    clock.set(datetime.fromisoformat(history["at"]))
    return Instance.objects.select_related("tenant", "version").get(pk=inst.pk)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_stored_history_replays_as_recorded(path, tenant, clock, make_workflow, drive):
    history = json.loads(path.read_text())
    inst = load(history, tenant, make_workflow, clock)
    assert instance_check(instance=inst, program=history["program"])["verdict"] == "continues"
    for change in history["changes"]:
        report = instance_check(instance=inst, program=change["program"])
        assert (report["verdict"], report.get("step"), report.get("got")) == (change["verdict"], change.get("step"), change.get("got")), change["what"]
    for event in history.get("events", []):
        services.event_send(tenant=tenant, instance_id=inst.pk, type=event["type"], payload=event["payload"])
    for _ in range(10):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            break
        clock.set(max(clock.now(), inst.due_at))
    assert inst.status == history["expect"]["status"], inst.error
    assert json.loads(inst.output) == history["expect"]["output"]
    assert list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list("name", flat=True)) == history["expect"]["steps"]


# ---- recording ----------------------------------------------------------------------------------
SOURCES = {
    "sequential_sleeping": {
        "description": "Three steps and a day's sleep; recorded asleep after the second step.",
        "program": """
export default async function run(event, step) {
  const order = await step.do("fetch", async () => ({ id: event.payload.id, total: 120 }));
  const charged = await step.do("charge", async () => order.total * 100);
  await step.sleep("cool_off", "1 day");
  const label = await step.do("ship", async () => `parcel-${order.id}-${Date.now()}-${Math.random() < 2}`);
  return { charged, label };
}""",
        "params": {"id": 7},
        "changes": [
            {"what": "a step renamed", "find": '"charge"', "replace": '"bill"', "verdict": "diverges", "step": "charge", "got": "bill"},
            {"what": "a step inserted", "find": '  const charged', "replace": '  await step.do("audit", async () => 1);\n  const charged',
             "verdict": "diverges", "step": "charge", "got": "audit"},
            {"what": "a step added after the sleep", "find": '  return { charged',
             "replace": '  await step.do("notify", async () => 1);\n  return { charged', "verdict": "continues"},
        ],
    },
    "fan_out_waiting": {
        "description": "Promise.all over three steps, then a wait for an approval event; recorded waiting.",
        "program": """
export default async function run(event, step) {
  const parts = await Promise.all(["a", "b", "c"].map((p) => step.do(`part_${p}`, async () => p.toUpperCase())));
  const decision = await step.waitForEvent("approval", { type: "approve", timeout: "2 days" });
  return await step.do("finish", async () => ({ parts, approved: decision.payload.ok }));
}""",
        "params": {},
        "events": [{"type": "approve", "payload": {"ok": True}}],
        "changes": [
            {"what": "a parallel step renamed", "find": "`part_${p}`", "replace": "`piece_${p}`",
             "verdict": "diverges", "step": "part_a", "got": "piece_a"},
            {"what": "the order of the parallel steps changed", "find": '["a", "b", "c"]', "replace": '["c", "b", "a"]',
             "verdict": "continues"},
        ],
    },
    "retrying": {
        "description": "A step that fails twice before it succeeds; recorded while its retry is due.",
        "program": """
export default async function run(event, step) {
  const first = await step.do("first", async () => 1);
  const flaky = await step.do("flaky", { retries: { limit: 3, delay: "10 seconds", backoff: "constant" } },
                              async (ctx) => { if (ctx.attempt < 3) throw new Error(`try ${ctx.attempt}`); return ctx.attempt; });
  return { first, flaky };
}""",
        "params": {},
        "changes": [
            {"what": "the flaky step renamed", "find": '"flaky"', "replace": '"sturdy"', "verdict": "diverges",
             "step": "flaky", "got": "sturdy"},
        ],
    },
}


@pytest.mark.skipif(not os.environ.get("RECORD_HISTORIES"), reason="records histories/*.json when RECORD_HISTORIES is set")
@pytest.mark.parametrize("name", sorted(SOURCES))
def test_record(name, tenant, clock, make_workflow, drive):
    source = SOURCES[name]
    created = clock.now()
    wf = make_workflow(source["program"], slug="record")
    inst = services.instance_create(tenant=tenant, workflow=wf, id=f"{name}-1", params=source["params"])
    drive()
    if name == "retrying":
        clock.advance(seconds=10)
        drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    steps = [{k: _iso(v) for k, v in row.items()} for row in StepRecord.objects.filter(instance=inst).order_by("pk").values(*FIELDS)]
    history = {
        "description": source["description"], "program": source["program"].strip() + "\n", "params": source["params"],
        "key": inst.key, "created_at": created.isoformat(), "due_at": inst.due_at.isoformat(), "wait_types": inst.wait_types,
        "at": max(clock.now(), inst.due_at).isoformat() if name != "fan_out_waiting" else clock.now().isoformat(),
        "steps": steps, "events": source.get("events", []),
        "changes": [{"what": c["what"], "program": source["program"].replace(c["find"], c["replace"]).strip() + "\n",
                     "verdict": c["verdict"], **({"step": c["step"], "got": c["got"]} if c["verdict"] == "diverges" else {})}
                    for c in source["changes"]],
    }
    for change in source["changes"]:
        assert change["find"] in source["program"], change
    # What must follow: run this instance to the end now.
    for event in source.get("events", []):
        services.event_send(tenant=tenant, instance_id=inst.pk, type=event["type"], payload=event["payload"])
    for _ in range(10):
        clock.set(max(clock.now(), inst.due_at or clock.now()))
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            break
    history["expect"] = {"status": inst.status, "output": json.loads(inst.output),
                         "steps": list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list("name", flat=True))}
    (HERE / f"{name}.json").write_text(json.dumps(history, indent=2) + "\n")
