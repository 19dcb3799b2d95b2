"""A worker's right to write ends with its lease: one whose lease was taken over writes nothing,
whether it notices at its next commit in the middle of an advance or at the end; two real worker
processes competing for the same due instances never run a committed step twice."""
import json

import pytest
from django.db import connection

from engine import runner, services
from engine.models import Attempt, Instance, StepRecord
from tests.processes import start_engine_worker, stop, wait_for

from .capabilities import TABLE, create_table


def test_a_worker_whose_lease_is_taken_mid_advance_writes_nothing_more(tenant, clock, make_workflow):
    wf = make_workflow("""
    export default async function run(event, step) {
      await step.do("before", () => 1);
      await step.do("taken", () => step.stealLease({}));
      await step.do("after", () => 3);
      await step.sleep("nap", "1 hour");
      return "done";
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    assert runner.advance(inst.pk, worker="w1") == "lost"
    inst.refresh_from_db()
    # The batch before the capability call was committed; nothing after the takeover was.
    assert (inst.lease_owner, inst.status, inst.output) == ("thief", "running", None)
    steps = dict(StepRecord.objects.filter(instance=inst).values_list("name", "status"))
    assert steps == {"before": "complete", "taken": "running"}
    assert list(Attempt.objects.filter(step__instance=inst, step__name="taken").values_list("status", flat=True)) == ["running"]


def test_a_worker_whose_lease_expired_and_was_taken_commits_nothing_at_the_end(tenant, clock, make_workflow):
    wf = make_workflow("""
    export default async function run(event, step) { return await step.do("a", () => "mine"); }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    claimed = runner.claim(inst.pk, worker="w1", now=clock.now())
    clock.advance(seconds=61)  # w1's lease expires; w2 takes the instance
    assert runner.claim(inst.pk, worker="w2", now=clock.now()) is not None
    assert runner.Advance(instance=claimed, worker="w1", now=clock.now()).run() == "lost"
    assert not StepRecord.objects.filter(instance=inst).exists()
    assert Instance.objects.get(pk=inst.pk).lease_owner == "w2"


PROGRAM = """
export default async function run(event, step) {
  const a = await step.do("a", { retries: { limit: 2, delay: "3 seconds" } }, async (ctx) => {
    // The slow instance's first attempt outlives its worker's 1 s lease: it returns only once the
    // other worker has taken the instance over (a condition, not a time).
    await step.sideEffect({ label: "a", until_taken_over: event.payload.slow && ctx.attempt === 1 });
    return ctx.attempt;
  });
  await step.do("b", () => step.sideEffect({ label: "b" }));
  return a;
}"""


def effects(instance_id, label: str) -> int:
    with connection.cursor() as c:
        c.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE label = %s AND instance = %s", [label, str(instance_id)])
        return c.fetchone()[0]


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_two_worker_processes_competing_for_the_same_instances(tenant, make_workflow):
    create_table()
    wf = make_workflow(PROGRAM)
    slow = services.instance_create(tenant=tenant, workflow=wf, params={"slow": True})
    quick = [services.instance_create(tenant=tenant, workflow=wf, params={"slow": False}) for _ in range(20)]
    env = {"ENGINE_LEASE_SECONDS": "1", "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}
    workers = [start_engine_worker(f"lease-worker-{n}", **env) for n in (1, 2)]
    try:
        every = [slow, *quick]
        wait_for(lambda: Instance.objects.filter(pk__in=[i.pk for i in every], status="complete").count() == len(every),
                 timeout=90, what="every instance to complete")
    finally:
        for w in workers:
            stop(w)
    for inst in quick:  # claimed by one worker or the other, never both: each step ran once
        inst.refresh_from_db()
        assert (json.loads(inst.output), effects(inst.pk, "a"), effects(inst.pk, "b")) == (1, 1, 1)
        assert Attempt.objects.filter(step__instance=inst).count() == 2
    slow.refresh_from_db()
    # The first attempt's worker lost its lease while the step ran: its result was never committed;
    # the worker that took over recorded that attempt as lost and ran the retry.
    assert json.loads(slow.output) == 2, slow.output
    a = StepRecord.objects.get(instance=slow, name="a")
    attempts = list(Attempt.objects.filter(step=a).order_by("number").values_list("number", "status", "error"))
    assert [(n, s) for n, s, _ in attempts] == [(1, "errored"), (2, "complete")]
    assert attempts[0][2]["name"] == "WorkerLostError"
    assert (effects(slow.pk, "a"), effects(slow.pk, "b")) == (2, 1)
