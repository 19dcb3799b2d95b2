"""engine.services: every refusal names its field and writes nothing; status changes are
compare-and-set (a conflict is reported, never overwritten); restarts keep exactly the checkpoints
before the chosen step."""
import json

import pytest

from builder.services import version_create_from_code, workflow_create
from engine import progress, services
from engine.models import Attempt, Event, Instance, StepRecord
from tenants.errors import Conflict, InvalidInput, NotFound

PROGRAM = """
export default async function run(event, step) {
  const a = await step.do("a", () => 1);
  const b = await step.do("b", { retries: { limit: 0 } }, () => { if (event.payload && event.payload.fail) throw new Error("b failed"); return 2; });
  await step.sleep("nap", "1 hour");
  return a + b;
}"""


@pytest.fixture
def wf(make_workflow):
    return make_workflow(PROGRAM)


@pytest.mark.parametrize("params, message", [
    ({"x": float("nan")}, "NaN and Infinity are not"),  # Python's encoder writes NaN; JSON (and the database) has none
    ({"x": [float("inf")]}, "NaN and Infinity are not"),
    ({"x": [1, "two", None]}, None),
    ({"x": {1, 2}}, "params must be JSON"),
    ({"x": ["fine", "nul\x00here"]}, "U+0000"),
    ({"k\x00": 1}, "U+0000"),
    ("y" * (1024 * 1024), "byte limit"),
])
def test_params_must_be_bounded_storable_json(tenant, wf, params, message):
    if message is None:
        assert services.instance_create(tenant=tenant, workflow=wf, params=params).pk
        return
    with pytest.raises(InvalidInput) as e:
        services.instance_create(tenant=tenant, workflow=wf, params=params)
    assert e.value.field.startswith("params") and message in e.value.message
    assert not Instance.objects.exists()


def test_batches_are_bounded_published_and_without_repeated_ids(tenant, other_tenant, wf):
    for items, field in [([], "instances"), ([{}] * 101, "instances"), ([{"id": "x"}, {"id": "x"}], "id")]:
        with pytest.raises(InvalidInput) as e:
            services.instance_create_batch(tenant=tenant, workflow=wf, items=items)
        assert e.value.field == field
    draft = workflow_create(tenant=tenant, slug="draft")
    with pytest.raises(InvalidInput) as e:
        services.instance_create(tenant=tenant, workflow=draft)
    assert (e.value.field, e.value.message) == ("workflow", "the workflow has no published version")
    with pytest.raises(InvalidInput):
        services.instance_create(tenant=other_tenant, workflow=wf)  # another tenant's workflow
    assert not Instance.objects.exists()
    made = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{"id": "one"}, {"id": "two"}])
    assert [i.key for i in made] == ["one", "two"]
    again = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{"id": "two"}, {"id": "three"}])
    assert again[0].pk == made[1].pk and Instance.objects.count() == 3  # an existing id is that instance


def test_pause_resume_and_terminate_are_compare_and_set(tenant, wf, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=wf)
    paused = services.instance_pause(tenant=tenant, instance_id=inst.pk)
    assert (paused.status, paused.due_at) == ("paused", None)
    assert services.instance_pause(tenant=tenant, instance_id=inst.pk).status == "paused"  # again: unchanged
    resumed = services.instance_resume(tenant=tenant, instance_id=inst.pk)
    assert (resumed.status, resumed.due_at) == ("queued", clock.now())
    assert services.instance_resume(tenant=tenant, instance_id=inst.pk).status == "queued"  # not paused: no-op

    # A running instance's pause waits for its worker; resuming before then withdraws it.
    Instance.objects.filter(pk=inst.pk).update(status="running", lease_owner="w")
    assert services.instance_pause(tenant=tenant, instance_id=inst.pk).status == "waitingForPause"
    assert services.instance_resume(tenant=tenant, instance_id=inst.pk).status == "running"

    done = services.instance_terminate(tenant=tenant, instance_id=inst.pk)
    assert (done.status, done.due_at, done.lease_owner) == ("terminated", None, "")
    assert services.instance_terminate(tenant=tenant, instance_id=inst.pk).finished_at == done.finished_at
    with pytest.raises(Conflict) as e:
        services.instance_resume(tenant=tenant, instance_id=inst.pk)
    assert e.value.message == "the instance is terminated"
    types = [e["type"] for e in progress.events_of(inst.progress.order_by("event_id"))]
    assert types == ["workflow_queued", "workflow_paused", "workflow_queued", "workflow_terminated"]


def test_another_tenants_instance_is_not_found(tenant, other_tenant, wf):
    inst = services.instance_create(tenant=tenant, workflow=wf)
    for op in (services.instance_pause, services.instance_resume, services.instance_terminate,
               services.instance_restart, services.instance_restart_failed):
        with pytest.raises(NotFound):
            op(tenant=other_tenant, instance_id=inst.pk)
    with pytest.raises(NotFound):
        services.event_send(tenant=other_tenant, instance_id=inst.pk, type="t")
    assert Instance.objects.get(pk=inst.pk).status == "queued" and not Event.objects.exists()


def test_restart_failed_keeps_the_checkpoints_before_the_failed_step(tenant, wf, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"fail": True})
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    a = StepRecord.objects.get(instance=inst, name="a")
    with pytest.raises(InvalidInput) as e:
        services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="nope")
    assert e.value.field == "from"
    other = workflow_create(tenant=tenant, slug="other")
    version = version_create_from_code(workflow=other, program=PROGRAM)
    with pytest.raises(InvalidInput) as e:
        services.instance_restart(tenant=tenant, instance_id=inst.pk, version=version)
    assert e.value.field == "version"
    assert StepRecord.objects.filter(instance=inst).count() == 2  # the refused restart changed nothing

    restarted = services.instance_restart_failed(tenant=tenant, instance_id=inst.pk)
    assert (restarted.status, restarted.output, restarted.error) == ("queued", None, None)
    assert list(StepRecord.objects.filter(instance=inst).values_list("pk", flat=True)) == [a.pk]  # b's record went
    assert not Attempt.objects.filter(step__instance=inst, step__name="b").exists()
    with pytest.raises(Conflict):
        services.instance_restart_failed(tenant=tenant, instance_id=inst.pk)  # not errored any more
    Instance.objects.filter(pk=inst.pk).update(params={"fail": False})
    drive()
    clock.advance(hours=1)
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", 3)
    assert StepRecord.objects.get(instance=inst, name="a").pk == a.pk  # never ran again


def test_events_wake_a_waiting_instance_and_are_bounded(tenant, make_workflow, clock, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      return (await step.waitForEvent("w", { type: "go", timeout: "1 day" })).payload;
    }""", slug="waiter")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting" and inst.due_at == clock.now() + __import__("datetime").timedelta(days=1)
    with pytest.raises(InvalidInput):
        services.event_send(tenant=tenant, instance_id=inst.pk, type="go", payload="z" * (1024 * 1024))
    services.event_send(tenant=tenant, instance_id=inst.pk, type="go", payload={"n": 1})
    inst.refresh_from_db()
    assert inst.due_at == clock.now()  # due at once, not at the timeout
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", {"n": 1})
