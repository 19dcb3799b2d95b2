"""Recovery without real processes: expired leases, poison programs, long programs, tampering."""
import json
from datetime import timedelta

from engine import runner, selectors, services
from engine.counters import COUNTERS
from engine.models import Instance, ProgressEvent, StepRecord
from engine.progress import events_of


def expire_lease(inst, clock, owner="dead-worker"):
    """What a worker that died mid-advance leaves behind: running, leased, lease in the past."""
    Instance.objects.filter(pk=inst.pk).update(status="running", lease_owner=owner, due_at=clock.now() - timedelta(seconds=1))


def test_an_expired_lease_is_recovered_by_the_next_worker(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) { return await step.do("a", () => "done"); }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    assert runner.claim(inst.pk, worker="w1", now=clock.now()) is not None
    # w1 dies here. Its lease runs until due_at; nobody else may take the instance before.
    assert runner.advance(inst.pk, worker="w2") == "skipped"
    clock.advance(seconds=61)
    drive()
    inst.refresh_from_db()
    assert (inst.status, inst.recoveries, json.loads(inst.output)) == ("complete", 0, "done")


def test_a_worker_that_lost_its_lease_writes_nothing(tenant, clock, make_workflow):
    wf = make_workflow("""
    export default async function run(event, step) { return await step.do("a", () => "done"); }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    claimed = runner.claim(inst.pk, worker="w1", now=clock.now())
    services.instance_terminate(tenant=tenant, instance_id=inst.pk)
    assert runner.Advance(instance=claimed, worker="w1", now=clock.now()).run() == "lost"
    assert not StepRecord.objects.filter(instance=inst).exists()
    assert Instance.objects.get(pk=inst.pk).status == "terminated"


def test_a_program_that_keeps_killing_its_worker_is_failed(tenant, clock, make_workflow, drive):
    wf = make_workflow("export default async function run(event, step) { await step.sleep('s', '1 day'); }")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    for _ in range(runner.MAX_RECOVERIES):
        expire_lease(inst, clock)
        assert runner.claim(inst.pk, worker="w", now=clock.now()) is not None
    expire_lease(inst, clock)
    before = COUNTERS.recoveries
    assert runner.claim(inst.pk, worker="w", now=clock.now()) is None
    assert COUNTERS.recoveries == before + 1
    inst.refresh_from_db()
    assert inst.status == "errored" and inst.error["name"] == "WorkerLostError" and inst.error["message"]
    assert (inst.recoveries, inst.due_at, inst.lease_owner, inst.finished_at) == (runner.MAX_RECOVERIES + 1, None, "", clock.now())
    last = events_of(ProgressEvent.objects.filter(instance=inst).order_by("event_id"))[-1]
    assert (last["type"], last["error"]) == ("workflow_errored", inst.error)


def test_a_pause_asked_of_a_worker_that_died_takes_effect_at_recovery(tenant, clock, make_workflow):
    wf = make_workflow("export default async function run(event, step) { await step.sleep('s', '1 day'); }")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    expire_lease(inst, clock)
    Instance.objects.filter(pk=inst.pk).update(status="waitingForPause")
    assert runner.claim(inst.pk, worker="w", now=clock.now()) is None  # nothing left to run
    inst.refresh_from_db()
    assert (inst.status, inst.due_at, inst.lease_owner, inst.recoveries) == ("paused", None, "", 1)
    assert events_of(ProgressEvent.objects.filter(instance=inst).order_by("event_id"))[-1]["type"] == "workflow_paused"


def test_trace_mode_pins_a_crash_on_the_step_in_flight(tenant, clock, make_workflow, drive):
    """After two lost leases, attempts are committed as they start; the next loss fails that step."""
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("fine", () => 1);
      return await step.do("crashy", { retries: { limit: 0 } }, () => 2);
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    Instance.objects.filter(pk=inst.pk).update(recoveries=2)
    claimed = runner.claim(inst.pk, worker="w", now=clock.now())
    assert claimed.recoveries == 2
    advance = runner.Advance(instance=claimed, worker="w", now=clock.now())
    assert json.loads(advance.init_json())["trace"] is True
    commits = []
    real_commit = advance.commit
    advance.commit = lambda cmds, **final: commits.append([c["t"] for c in cmds]) or real_commit(cmds, **final)
    advance.run()
    assert ["start"] in commits  # each attempt's start was committed on its own, before it ran


def test_a_long_program_yields_its_worker_between_slices(tenant, clock, make_workflow, drive, monkeypatch):
    monkeypatch.setattr(runner, "SLICE_SECONDS", 0)
    wf = make_workflow("""
    export default async function run(event, step) {
      let total = 0;
      for (let i = 0; i < 250; i++) total += await step.do(`s${i}`, () => i);
      return total;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    results = []
    while (r := runner.advance(inst.pk, worker="w")) != "released":
        results.append(r)
    assert results == ["due"] * 4  # a slice per batch of 100 commands (50 steps), then the last completes
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", sum(range(250)))
    types = [e["type"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk)]
    assert types.count("workflow_started") == 1 and types.count("step_completed") == 250


def test_a_program_that_breaks_json_only_breaks_itself(tenant, clock, make_workflow, drive):
    wf = make_workflow("""
    export default async function run(event, step) {
      JSON.stringify = () => "garbage"; JSON.parse = () => ({});
      return await step.do("a", () => ({ ok: true }));
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete"
