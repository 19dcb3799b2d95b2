"""engine.seeding: test instances seeded with step results never run those steps, stop after the
chosen step, refuse seeds that are not valid step results (writing nothing), and stay the tenant's."""
import base64
import json

import pytest

from engine import seeding
from engine.models import Instance, StepRecord
from engine.selectors import progress_after
from tenants.errors import InvalidInput
from tenants.secrets import secret_put

PROGRAM = """
export default async function run(event, step) {
  const a = await step.do("a", () => { throw new NonRetryableError("a ran although it was seeded"); });
  const b = await step.do("b", () => ({ doubled: a.n * 2, from: event.payload }));
  const c = await step.do("c", { retries: { limit: 0 } }, () => {
    if (b.from && b.from.fail) throw new Error("c failed");
    return { seen: b.doubled + 1 };
  });
  const d = await step.do("d", () => { throw new NonRetryableError("d ran after the stop"); });
  return d;
}"""

DURABLE = """
export default async function run(event, step) {
  await step.sleep("nap", "1 day");
  const got = await step.waitForEvent("decision", { type: "approve", timeout: "1 hour" });
  return await step.do("after", () => ({ decided: got.payload }));
}"""

PARALLEL = """
export default async function run(event, step) {
  const [x] = await Promise.all([step.do("x", () => 42), step.sleep("nap", "1 day")]);
  return x;
}"""


@pytest.fixture
def wf(make_workflow):
    return make_workflow(PROGRAM)


def records(instance):
    return {r.name: (r.status, r.output, r.attempts) for r in StepRecord.objects.filter(instance=instance)}


def test_seeded_steps_are_not_run_and_the_instance_stops_after_its_stop_step(tenant, wf, drive):
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        params={"k": 1}, seeds={"a": {"n": 20}}, stop_after="c")
    assert inst.test and inst.stop_after == "c"
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", {"seen": 41})
    steps = records(inst)
    assert steps["a"] == ("complete", '{"n": 20}', 0)  # seeded: recorded, never attempted
    assert json.loads(steps["b"][1]) == {"doubled": 40, "from": {"k": 1}}
    assert steps["c"][0] == "complete" and "d" not in steps  # nothing after the stop ran
    events = progress_after(tenant=tenant, instance_id=inst.pk)
    given = [e for e in events if e["type"] == "step_completed" and e.get("step") == "a"]
    assert len(given) == 1 and given[0].get("seeded") is True and given[0].get("output") == '{"n": 20}'
    assert events[-1]["type"] == "workflow_completed"
    assert [e["type"] for e in events].count("workflow_completed") == 1


def test_a_stop_step_that_fails_for_good_ends_the_instance_errored(tenant, wf, drive):
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        params={"fail": True}, seeds={"a": {"n": 1}}, stop_after="c")
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored" and inst.error["message"] == "c failed"
    assert "d" not in records(inst)


def test_without_a_stop_a_seeded_instance_runs_to_its_end(tenant, wf, drive):
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        seeds={"a": {"n": 1}, "d": "pinned d"})
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "pinned d")
    assert records(inst)["c"][0] == "complete"


def test_seeded_sleeps_are_over_and_seeded_waits_took_their_event(tenant, make_workflow, drive):
    wf = make_workflow(DURABLE, slug="durable")
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        seeds={"nap": None, "decision": {"type": "approve", "payload": "yes"}},
                                        kinds={"nap": "sleep", "decision": "wait"})
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", {"decided": "yes"})


def test_the_stop_ends_the_instance_although_another_branch_still_sleeps(tenant, make_workflow, drive):
    wf = make_workflow(PARALLEL, slug="parallel")
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version, stop_after="x")
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.output, inst.due_at) == ("complete", "42", None)


@pytest.mark.parametrize("seeds, stop, field, message", [
    ({"a": float("nan")}, None, "seeds.a", "NaN and Infinity"),
    ({"a": {1, 2}}, None, "seeds", "must be JSON"),
    ({"a": "x" * (1024 * 1024)}, None, "seeds", "byte limit of a step's result"),
    ({"a": "nul\x00"}, None, "seeds.a", "U+0000"),
    ({"": 1}, None, "seeds", "1 to 256"),
    (["a"], None, "seeds", "maps step names"),
    ({"a": "the key is hunter2-hunter2!"}, None, "seeds", "secrets"),
    ({"a": {"nested": json.dumps(json.dumps("hunter2-hunter2!"))}}, None, "seeds", "secrets"),
    ({"a": base64.b64encode(b"hunter2-hunter2!").decode()}, None, "seeds", "secrets"),
    ({"c": 1}, "c", "stop_after", "is seeded"),
    ({"a": 1, "kinds": "timer"}, None, "kinds", "kinds names"),
])
def test_seeds_are_checked_like_step_results_and_nothing_is_written(tenant, wf, seeds, stop, field, message):
    secret_put(tenant=tenant, name="API_KEY", value="hunter2-hunter2!")
    kinds = {"a": seeds.pop("kinds")} if isinstance(seeds, dict) and "kinds" in seeds else None
    with pytest.raises(InvalidInput) as e:
        seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version, seeds=seeds,
                                     kinds=kinds, stop_after=stop)
    assert e.value.field == field and message in e.value.message
    assert not Instance.objects.exists() and not StepRecord.objects.exists()


def test_another_tenants_secret_is_not_a_reason_to_refuse(tenant, other_tenant, wf):
    secret_put(tenant=other_tenant, name="API_KEY", value="hunter2-hunter2!")
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        seeds={"a": "hunter2-hunter2!"})
    assert records(inst)["a"][0] == "complete"


def test_a_test_instance_belongs_to_the_workflows_tenant_only(tenant, other_tenant, wf):
    with pytest.raises(InvalidInput) as e:
        seeding.instance_create_test(tenant=other_tenant, workflow=wf, version=wf.published_version, seeds={"a": 1})
    assert e.value.field == "workflow"
    assert not Instance.objects.exists() and not StepRecord.objects.exists()
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version, seeds={"a": 1})
    assert StepRecord.objects.get(instance=inst).tenant_id == tenant.pk
    assert inst.tenant_id == tenant.pk


def test_a_seeded_step_after_steps_that_run_is_reached_after_them(tenant, wf, drive):
    """The replay's recorded path leaves seeded results out: a pinned node downstream of nodes that
    run (b, c here) is not a step the program was expected to reach first (no NonDeterminismError)."""
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        seeds={"a": {"n": 1}, "d": "pinned d"})
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", "pinned d")
    assert [r.name for r in StepRecord.objects.filter(instance=inst).order_by("pk")] == ["a", "d", "b", "c"]
