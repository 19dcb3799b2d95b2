"""A program that leaves its instance's record ends with a NonDeterminismError naming the step,
instead of recording a different history; one that keeps it (Promise.all included) runs on."""
import json

from builder.services import version_create_from_code
from engine import services
from engine.models import Instance, StepRecord

V1 = """
export default async function run(event, step) {
  const a = await step.do("fetch", async () => 1);
  const b = await step.do("charge", async () => a + 1);
  await step.sleep("cool_off", "1 hour");
  return await step.do("ship", async () => b + 1);
}"""


def sleeping_on(tenant, wf, drive):
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "waiting"
    return inst


def test_a_renamed_step_ends_the_instance_with_a_nondeterminism_error(tenant, clock, make_workflow, drive):
    wf = make_workflow(V1)
    inst = sleeping_on(tenant, wf, drive)
    v2 = version_create_from_code(workflow=wf, program=V1.replace('"charge"', '"bill"'))
    # Restarted onto v2 from the sleep: fetch and charge keep their checkpoints, which v2 leaves.
    services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="cool_off", version=v2)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert inst.error["name"] == "NonDeterminismError"
    assert inst.error["message"].startswith(
        "step charge is step 2 of this instance's history, but the program now takes do step bill without reaching it")
    # Nothing of the new path was recorded.
    assert list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list("name", flat=True)) == ["fetch", "charge"]


def test_an_inserted_step_is_refused_and_an_appended_one_runs(tenant, clock, make_workflow, drive):
    wf = make_workflow(V1)
    inserted = sleeping_on(tenant, wf, drive)
    appended = sleeping_on(tenant, wf, drive)
    v2 = version_create_from_code(workflow=wf, program=V1.replace(
        'const b =', 'await step.do("audit", async () => 0);\n  const b ='))
    v3 = version_create_from_code(workflow=wf, program=V1.replace(
        'return await', 'await step.do("audit", async () => 0);\n  return await'))
    services.instance_restart(tenant=tenant, instance_id=inserted.pk, from_step="cool_off", version=v2)
    services.instance_restart(tenant=tenant, instance_id=appended.pk, from_step="cool_off", version=v3)
    drive()  # the restarted sleep starts again
    clock.advance(hours=2)
    drive()
    inserted.refresh_from_db()
    appended.refresh_from_db()
    assert inserted.status == "errored" and inserted.error["name"] == "NonDeterminismError"
    assert "step charge is step 2" in inserted.error["message"] and "do step audit" in inserted.error["message"]
    assert appended.status == "complete" and json.loads(appended.output) == 3


def test_replay_under_promise_all_in_another_order_is_not_a_divergence(tenant, clock, make_workflow, drive):
    # The first run recorded a1, b1, a_nap, b2 ... b8, b_nap; its replay reaches a_new (new) while
    # b5 ... b8 (recorded) are still ahead in the other chain: a_new waits for them, then runs.
    wf = make_workflow("""
    export default async function run(event, step) {
      const a = (async () => {
        await step.do("a1", async () => 1);
        await step.sleep("a_nap", "1 hour");
        return step.do("a_new", async () => "a");
      })();
      const b = (async () => {
        let n = 0;
        for (let i = 1; i <= 8; i++) n += await step.do("b" + i, async () => i);
        await step.sleep("b_nap", "2 hours");
        return step.do("b_last", async () => n);
      })();
      return await Promise.all([a, b]);
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    names = list(StepRecord.objects.filter(instance=inst).order_by("pk").values_list("name", flat=True))
    assert names.index("a_nap") < names.index("b8")
    for _ in range(3):
        clock.advance(hours=1)
        drive()
    inst.refresh_from_db()
    assert inst.status == "complete", inst.error
    assert json.loads(inst.output) == ["a", 36]


def test_a_program_that_ends_before_its_record_is_refused(tenant, clock, make_workflow, drive):
    wf = make_workflow(V1)
    inst = sleeping_on(tenant, wf, drive)
    v2 = version_create_from_code(workflow=wf, program="""
    export default async function run(event, step) {
      await step.do("fetch", async () => 1);
      return "short";
    }""")
    services.instance_restart(tenant=tenant, instance_id=inst.pk, from_step="cool_off", version=v2)
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    assert inst.error["message"].startswith("step charge is step 2 of this instance's history, but the program no longer reaches it")
    assert Instance.objects.get(pk=inst.pk).output is None


def _session():
    from engine.sandbox import ProtocolLimits, Session, StepState

    limits = ProtocolLimits(now=0, max_output=1024, max_logs=10, max_log_bytes=1024, max_commands=100, capabilities=frozenset())
    states = {("fetch", 1): StepState(kind="do", status="complete", attempts=1),
              ("charge", 1): StepState(kind="do", status="complete", attempts=1)}
    return Session(limits=limits, states=states, inbox={})


def test_the_host_checks_a_reported_divergence_against_its_record():
    import pytest

    from engine.sandbox import ProtocolViolation

    def final(diverged):
        return json.dumps({"cmds": [], "outcome": None, "wake": None, "waitTypes": [], "halted": False, "diverged": diverged})

    session = _session()
    assert session.final(final(["charge", 1, "bill", 1, "do"])).diverged == ("charge", 1, "bill", 1, "do")
    error = session.divergence_error(("charge", 1, "bill", 1, "do"))
    assert error["name"] == "NonDeterminismError" and error["message"].startswith("step charge is step 2 of this instance's history")
    for forged in (["ship", 1, "bill", 1, "do"],  # not in the record
                   ["charge", 1, "fetch", 1, "do"],  # the step taken instead is a recorded one
                   ["charge", 1, "bill", 1, "rollback"], ["charge", 1, "bill", 0, "do"], ["charge", 1, None, 1, None],
                   ["charge", 1, "bill"], "charge", ["charge", 1, "x" * 300, 1, "do"]):
        with pytest.raises(ProtocolViolation):
            _session().final(final(forged))
