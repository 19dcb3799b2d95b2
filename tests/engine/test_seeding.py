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


FAN_OUT = """
export default async function run(event, step) {
  const [a, b] = await Promise.all([
    step.do("left", () => 1).then((x) => step.do("stop", () => x + 1)),
    step.do("right", () => { throw new NonRetryableError("right ran outside the scope"); }),
  ]);
  return b;
}"""


def test_a_step_outside_the_scope_is_parked_and_the_run_ends_at_its_stop(tenant, make_workflow, drive):
    wf = make_workflow(FAN_OUT)
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        stop_after="stop", scope=["left"])
    assert inst.scope == ["left", "stop"]  # the stop step is always in its own scope
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", 2)
    assert set(records(inst)) == {"left", "stop"}  # `right` never started


def test_a_stop_behind_a_parked_step_ends_the_run_with_a_clear_error(tenant, make_workflow, drive):
    wf = make_workflow(FAN_OUT)
    inst = seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                        stop_after="stop", scope=[])
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored" and inst.error["name"] == "StopNotReachedError", inst.error
    assert "stop" in inst.error["message"] and records(inst) == {}


@pytest.mark.parametrize("scope, stop, message", [
    (["a"], None, "needs stop_after"),
    ("abc", "c", "list of at most"),
    ([1], "c", "1 to 256 characters"),
    ([""], "c", "1 to 256 characters"),
])
def test_a_bad_scope_is_refused_and_nothing_is_written(tenant, wf, scope, stop, message):
    with pytest.raises(InvalidInput, match=message):
        seeding.instance_create_test(tenant=tenant, workflow=wf, version=wf.published_version,
                                     stop_after=stop, scope=scope)
    assert not Instance.objects.filter(tenant=tenant).exists()


def test_the_host_refuses_to_start_a_step_outside_the_scope():
    """Whatever the runtime sends: the tenant's realm could skip order.js's parking."""
    from engine.sandbox import ProtocolLimits, ProtocolViolation, Session

    limits = ProtocolLimits(now=0, max_output=1000, max_logs=10, max_log_bytes=1000, max_commands=100,
                            capabilities=frozenset({"http"}))
    session = Session(limits=limits, states={}, inbox={}, scope=frozenset({"fetch", "loop", "child"}))
    c = {"retries": {"limit": 0, "delay": 0, "backoff": "constant"}, "timeout": 1000}
    session.message(json.dumps({"cmds": [{"t": "start", "s": "fetch", "o": 1, "a": 1, "c": c},
                                         {"t": "start", "s": "loop[0]", "o": 1, "a": 1, "c": c},
                                         {"t": "wait", "s": "child.result", "o": 1, "type": "x", "wake": 5}]}))
    for cmd in ({"t": "start", "s": "charge", "o": 1, "a": 1, "c": c}, {"t": "sleep", "s": "fetchx", "o": 1, "wake": 5},
                {"t": "wait", "s": "other[0]", "o": 1, "type": "x", "wake": 5}):
        with pytest.raises(ProtocolViolation, match="outside this test run's scope"):
            session.message(json.dumps({"cmds": [cmd], "cap": ["http", "{}"]}))


def test_a_run_up_to_a_node_after_a_loop_includes_the_loops_body():
    from builder.graph import parse
    from builder.structure import scope

    node = lambda i, t, d=None: {"id": i, "type": t, "position": {"x": 0, "y": 0}, "data": d or {}}  # noqa: E731
    graph = parse({"nodes": [node("start", "manual"), node("each", "loop", {"items": "{{ [1, 2] }}"}),
                             node("body", "transform", {"fields": {}}), node("after", "transform", {"fields": {}}),
                             node("aside", "transform", {"fields": {}})],
                   "edges": [{"id": "1", "source": "start", "target": "each"},
                             {"id": "2", "source": "each", "target": "body", "sourceHandle": "body"},
                             {"id": "3", "source": "each", "target": "after", "sourceHandle": "done"},
                             {"id": "4", "source": "start", "target": "aside"}]})
    assert scope(graph, "after") == {"start", "each", "body", "after"}
