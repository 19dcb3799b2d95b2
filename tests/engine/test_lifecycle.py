"""Instance operations: create (idempotent, batches), events, pause, resume, terminate, restart,
version pinning, and tenant scoping."""
import json

import pytest

from builder.services import version_create_from_code
from engine import selectors, services
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Event, Instance, StepRecord

WAITER = """
export default async function run(event, step) {
  const approval = await step.waitForEvent("approval", { type: "approve", timeout: "2 days" });
  return approval.payload;
}"""


def test_an_event_sent_before_the_wait_is_consumed(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.sleep("first", "1 hour");
      const a = await step.waitForEvent("a", { type: "approve" });
      const b = await step.waitForEvent("b", { type: "approve" });
      return [a.payload, b.payload, a.type];
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload={"n": 1})
    services.event_send(tenant=tenant, instance_id=inst.pk, type="other", payload={"n": 0})
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload={"n": 2})
    inst.refresh_from_db()
    assert inst.status == "waiting" and inst.due_at == clock.now().replace(hour=1)  # the sleep still runs
    clock.advance(hours=1)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == [{"n": 1}, {"n": 2}, "approve"]
    assert Event.objects.filter(instance=inst, consumed_by__isnull=True).get().type == "other"


def test_an_event_wakes_a_waiting_instance(tenant, clock, make_workflow, drive):
    wf = make_workflow(WAITER)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    assert (inst.due_at - clock.now()).days == 2
    clock.advance(minutes=3)
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload={"by": "ana"})
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", {"by": "ana"})
    wait = selectors.instance_status(tenant=tenant, instance_id=inst.pk)["steps"][0]
    assert wait["kind"] == "wait" and wait["output"]["payload"] == {"by": "ana"}


def test_a_wait_times_out(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      try { await step.waitForEvent("approval", { type: "approve", timeout: "1 hour" }); }
      catch (e) { return e.name + ": " + e.message; }
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    clock.advance(hours=1)
    drive()
    inst.refresh_from_db()
    assert json.loads(inst.output) == "WaitTimeoutError: waitForEvent approval: no approve event arrived before the timeout"
    types = [e["type"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)]
    assert "wait_started" in types and "wait_timed_out" in types


def test_an_event_sent_while_the_program_runs_is_not_lost(tenant, clock, make_workflow, drive, settings):
    """The event arrives after the advance loaded the inbox and before it released the instance."""
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES, "sendEvent": "tests.engine.test_lifecycle.send_event_capability"}
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("trigger", () => step.sendEvent({}));
      const got = await step.waitForEvent("w", { type: "late" });
      return got.payload;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "hello")


def send_event_capability(call):
    services.event_send(tenant=call.tenant, instance_id=call.instance.pk, type="late", payload="hello")
    return None


def test_create_with_an_existing_id_returns_that_instance(tenant, clock, make_workflow):
    wf = make_workflow(WAITER)
    first = services.instance_create(tenant=tenant, workflow=wf, id="order-7", params={"a": 1})
    again = services.instance_create(tenant=tenant, workflow=wf, id="order-7", params={"a": 2})
    assert again.pk == first.pk and again.params == {"a": 1}
    assert Instance.objects.count() == 1


def test_create_batch_of_up_to_100(tenant, clock, make_workflow, drive):
    wf = make_workflow("export default async function run(event, step) { return event.payload * 2; }")
    services.instance_create(tenant=tenant, workflow=wf, id="i-0", params=0)
    batch = services.instance_create_batch(
        tenant=tenant, workflow=wf, items=[{"id": f"i-{n}", "params": n} for n in range(100)])
    assert len(batch) == 100 and len({i.pk for i in batch}) == 100
    drive()
    assert sorted(json.loads(o) for o in Instance.objects.values_list("output", flat=True)) == [
        0 if n == 0 else n * 2 for n in range(100)]
    with pytest.raises(InvalidInput) as e:
        services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 101)
    assert e.value.field == "instances"


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 65, "ü", 12])
def test_a_bad_instance_id_is_refused(tenant, clock, make_workflow, bad):
    wf = make_workflow(WAITER)
    with pytest.raises(InvalidInput) as e:
        services.instance_create(tenant=tenant, workflow=wf, id=bad)
    assert e.value.field == "id"


def test_pause_and_resume_a_sleeping_instance(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) { await step.sleep("nap", "1 hour"); return "done"; }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = services.instance_pause(tenant=tenant, instance_id=inst.pk)
    assert (inst.status, inst.due_at) == ("paused", None)
    clock.advance(hours=2)
    drive()
    inst.refresh_from_db()
    assert inst.status == "paused"
    inst = services.instance_resume(tenant=tenant, instance_id=inst.pk)
    assert inst.status == "queued"
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "done")


def test_pause_while_running_stops_at_the_next_step_boundary(tenant, clock, make_workflow, drive, side_effects):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("one", () => step.pauseMe());
      await step.do("two", () => step.sideEffect({ label: "two" }));
      return "done";
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "paused"
    assert side_effects("two") == 0
    assert list(StepRecord.objects.filter(instance=inst).values_list("name", "status")) == [("one", "complete")]
    services.instance_resume(tenant=tenant, instance_id=inst.pk)
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete" and side_effects("two") == 1


def test_terminate_stops_for_good(tenant, clock, make_workflow, drive):
    wf = make_workflow(WAITER)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst = services.instance_terminate(tenant=tenant, instance_id=inst.pk)
    assert (inst.status, inst.due_at) == ("terminated", None)
    with pytest.raises(Conflict):
        services.event_send(tenant=tenant, instance_id=inst.pk, type="approve")
    with pytest.raises(Conflict):
        services.instance_pause(tenant=tenant, instance_id=inst.pk)
    clock.advance(days=3)
    drive()
    inst.refresh_from_db()
    assert inst.status == "terminated"


def test_restart_from_a_step_keeps_earlier_checkpoints(tenant, clock, make_workflow, drive, side_effects):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("a", () => step.sideEffect({ label: "a" }));
      await step.do("b", () => step.sideEffect({ label: "b" }));
      await step.do("c", () => step.sideEffect({ label: "c" }));
      return "done";
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="b")
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete"
    assert (side_effects("a"), side_effects("b"), side_effects("c")) == (1, 2, 2)
    services.instance_restart(tenant=tenant, instance_id=inst.pk)
    drive()
    assert (side_effects("a"), side_effects("b"), side_effects("c")) == (2, 3, 3)
    with pytest.raises(InvalidInput) as e:
        services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="nope")
    assert e.value.field == "from"


def test_restart_puts_consumed_events_back_in_the_inbox(tenant, clock, make_workflow, drive):
    wf = make_workflow(WAITER)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload=1)
    drive()
    services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="approval")
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", 1)


def test_an_instance_keeps_its_version(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) { await step.sleep("s", "1 minute"); return "v1"; }""")
    old = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    version_create_from_code(workflow=wf, program="export default async function run() { return 'v2'; }")
    wf.refresh_from_db()
    new = services.instance_create(tenant=tenant, workflow=wf)
    clock.advance(minutes=1)
    drive()
    assert json.loads(Instance.objects.get(pk=old.pk).output) == "v1"
    assert json.loads(Instance.objects.get(pk=new.pk).output) == "v2"


def test_another_tenants_instance_is_not_found(tenant, other_tenant, clock, make_workflow, drive):
    wf = make_workflow(WAITER)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    for op in [
        lambda: selectors.instance_get(tenant=other_tenant, instance_id=inst.pk),
        lambda: selectors.instance_status(tenant=other_tenant, instance_id=inst.pk),
        lambda: selectors.progress_after(tenant=other_tenant, instance_id=inst.pk),
        lambda: services.instance_pause(tenant=other_tenant, instance_id=inst.pk),
        lambda: services.instance_resume(tenant=other_tenant, instance_id=inst.pk),
        lambda: services.instance_terminate(tenant=other_tenant, instance_id=inst.pk),
        lambda: services.instance_restart(tenant=other_tenant, instance_id=inst.pk),
        lambda: services.event_send(tenant=other_tenant, instance_id=inst.pk, type="approve"),
        lambda: selectors.instance_get(tenant=tenant, instance_id="not-a-uuid"),
    ]:
        with pytest.raises(NotFound):
            op()
    with pytest.raises(InvalidInput):
        services.instance_create(tenant=other_tenant, workflow=wf)
    inst.refresh_from_db()
    assert inst.status == "queued"
