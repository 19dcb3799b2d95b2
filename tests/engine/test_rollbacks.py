"""Saga rollbacks (step.do's trailing { rollback, rollbackConfig }) on an injected clock: LIFO
order, their own retries, a failing one does not stop the others, terminate with rollback, and
what the instance's status and progress events say of them."""
import json

from engine import selectors, services
from engine.models import Attempt, Instance, StepRecord

SAGA = """
export default async function run(event, step) {
  const undo = (label) => ({
    rollback: async ({ ctx, output, error }) => {
      console.log("undo " + label + " " + JSON.stringify({ name: ctx.step.name, count: ctx.step.count,
        attempt: ctx.attempt, limit: ctx.config.retries.limit, output, error: error.message }));
      if (event.payload.failUndo === label) throw new Error("cannot undo " + label);
    },
    rollbackConfig: { retries: { limit: event.payload.undoRetries ?? 0, delay: "1 minute", backoff: "constant" } },
  });
  await step.do("reserve", async () => ({ reserved: 1 }), undo("reserve"));
  await step.do("charge", { retries: { limit: 1, delay: 0 } }, async (ctx) => ({ charge: "ch_" + ctx.attempt }), undo("charge"));
  await step.do("no-undo", async () => 3);
  await step.do("ship", async () => ({ shipped: true }), undo("ship"));
  if (event.payload.crash) throw new Error("carrier refused");
  return "done";
}"""


def undo_lines(tenant, inst):
    return [json.loads(e["message"].split(" ", 2)[2]) | {"label": e["message"].split(" ")[1]}
            for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "log"
            and e["message"].startswith("undo ")]


def run_until_settled(clock, drive, inst, limit=20):
    for _ in range(limit):
        drive()
        inst.refresh_from_db()
        if inst.status in Instance.FINISHED:
            return inst
        clock.set(inst.due_at)
    raise AssertionError("instance did not finish")


def test_rollbacks_run_in_reverse_step_order_with_the_step_context(tenant, clock, make_workflow, drive):
    wf = make_workflow(SAGA)
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"crash": True})
    run_until_settled(clock, drive, inst)
    assert inst.status == "errored"
    assert (inst.error["name"], inst.error["message"]) == ("Error", "carrier refused")
    lines = undo_lines(tenant, inst)
    assert [line["label"] for line in lines] == ["ship", "charge", "reserve"]
    assert lines[1] == {"label": "charge", "name": "charge", "count": 1, "attempt": 1, "limit": 1,
                        "output": {"charge": "ch_1"}, "error": "carrier refused"}
    status = selectors.instance_status(tenant=tenant, instance_id=inst.pk)
    assert status["rollback"]["reason"] == "errored" and status["rollback"]["finished"]
    assert (status["rollback"]["completed"], status["rollback"]["failed"]) == (3, 0)
    assert [s["name"] for s in status["rollback"]["steps"]] == ["ship", "charge", "reserve"]
    types = [e["type"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)]
    assert types.index("rollbacks_started") < types.index("rollback_started") < types.index("workflow_errored")
    assert types.count("rollback_completed") == 3
    errored = [e for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "workflow_errored"][0]
    assert errored["rollbacks"] == {"completed": 3, "failed": 0}


def test_a_completed_instance_runs_no_rollback(tenant, clock, make_workflow, drive):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(SAGA), params={})
    run_until_settled(clock, drive, inst)
    assert inst.status == "complete" and undo_lines(tenant, inst) == []
    assert not StepRecord.objects.filter(instance=inst, rollback=True).exists()


def test_a_failing_rollback_retries_then_fails_without_stopping_the_others(tenant, clock, make_workflow, drive):
    wf = make_workflow(SAGA)
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"crash": True, "failUndo": "charge", "undoRetries": 2})
    start = clock.now()
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"  # the rollback of charge waits for its retry
    assert (inst.due_at - start).total_seconds() == 60
    run_until_settled(clock, drive, inst)
    assert inst.status == "errored"
    assert [line["label"] for line in undo_lines(tenant, inst)] == ["ship", "charge", "charge", "charge", "reserve"]
    charge = StepRecord.objects.get(instance=inst, name="charge", rollback=True)
    assert (charge.status, charge.attempts, charge.error["message"]) == ("errored", 3, "cannot undo charge")
    assert list(Attempt.objects.filter(step=charge).order_by("number").values_list("status", flat=True)) == ["errored"] * 3
    assert StepRecord.objects.get(instance=inst, name="reserve", rollback=True).status == "complete"
    status = selectors.instance_status(tenant=tenant, instance_id=inst.pk)
    assert (status["rollback"]["completed"], status["rollback"]["failed"]) == (2, 1)
    events = selectors.progress_after(tenant=tenant, instance_id=inst.pk)
    assert [e["retryDelayMs"] for e in events if e["type"] == "rollback_attempt_errored" and "retryDelayMs" in e] == [60000, 60000]
    assert [e["step"] for e in events if e["type"] == "rollback_failed"] == ["charge"]


def test_terminate_with_rollback_undoes_the_completed_steps(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("book", async () => "b1", { rollback: async ({ output }) => { console.log("undo book " + output); } });
      await step.sleep("nap", "1 day");
      await step.do("never", async () => 1, { rollback: async () => { console.log("undo never"); } });
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    services.instance_terminate(tenant=tenant, instance_id=inst.pk, rollback=True)
    inst.refresh_from_db()
    assert inst.status == "queued" and inst.rollback["reason"] == "terminate"
    drive()
    inst.refresh_from_db()
    assert inst.status == "terminated"
    logs = [e["message"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "log"]
    assert logs == ["undo book b1"]
    assert not StepRecord.objects.filter(instance=inst, name="never").exists()
    assert StepRecord.objects.get(instance=inst, name="nap", rollback=False).status == "waiting"


def test_a_paused_instance_rolls_back_once_resumed(tenant, clock, make_workflow, drive):
    wf = make_workflow(SAGA)
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"crash": True, "failUndo": "ship", "undoRetries": 1})
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting" and inst.rollback["reason"] == "errored"  # ship's rollback waits to retry
    services.instance_pause(tenant=tenant, instance_id=inst.pk)
    clock.set(inst.due_at)
    drive()
    inst.refresh_from_db()
    assert inst.status == "paused"
    assert [line["label"] for line in undo_lines(tenant, inst)] == ["ship"]
    services.instance_resume(tenant=tenant, instance_id=inst.pk)
    run_until_settled(clock, drive, inst)
    assert inst.status == "errored"
    assert [line["label"] for line in undo_lines(tenant, inst)] == ["ship", "ship", "charge", "reserve"]


def test_restart_clears_the_rollback_phase(tenant, clock, make_workflow, drive):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(SAGA), params={"crash": True})
    run_until_settled(clock, drive, inst)
    services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="ship")
    inst.refresh_from_db()
    assert inst.rollback is None and not StepRecord.objects.filter(instance=inst, rollback=True).exists()
    assert list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list("name", flat=True)) == [
        "reserve", "charge", "no-undo"]


def test_a_step_that_completed_on_a_later_retry_is_rolled_back_too(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      const got = await step.do("flaky", { retries: { limit: 2, delay: "1 minute" } }, async (ctx) => {
        if (ctx.attempt === 1) throw new Error("not yet");
        return { id: "f-" + ctx.attempt };
      }, { rollback: async ({ ctx, output }) => { console.log("undo " + output.id + " after attempt " + ctx.attempt); } });
      throw new Error("later failure");
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    run_until_settled(clock, drive, inst)
    logs = [e["message"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk) if e["type"] == "log"]
    assert (inst.status, logs) == ("errored", ["undo f-2 after attempt 2"])
