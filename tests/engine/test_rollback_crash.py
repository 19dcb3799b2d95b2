"""Rollbacks are crash-safe like steps: a worker killed during the rollback phase is replaced, the
rollbacks already committed are not run again, and the one it was running counts a lost attempt."""
import signal

import pytest

from engine import services
from engine.models import Attempt, Instance, StepRecord
from tests.processes import start_engine_worker, stop, wait_for

from .capabilities import count, create_table

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

PROGRAM = """
export default async function run(event, step) {
  const undo = (label, hang) => ({
    // The handler of b hangs the first time it runs (long enough to be killed), not after.
    rollback: async () => step.sideEffect({ label: "undo-" + label, sleep_first: hang ? 60 : 0 }),
    rollbackConfig: { retries: { limit: 2, delay: "1 second" } },
  });
  await step.do("a", () => step.sideEffect({ label: "a" }), undo("a", false));
  await step.do("b", () => step.sideEffect({ label: "b" }), undo("b", true));
  await step.do("c", () => step.sideEffect({ label: "c" }), undo("c", false));
  throw new Error("the order was cancelled");
}"""
ENV = {"ENGINE_LEASE_SECONDS": "2", "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}


def test_a_worker_killed_between_two_rollbacks_repeats_none_of_them(tenant, make_workflow):
    create_table()
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    first = start_engine_worker("rollback-crash-1", **ENV)
    second = None
    try:
        # c's rollback is committed; b's first attempt is running (its handler hangs): kill the worker.
        wait_for(lambda: count("undo-b") == 1, what="the rollback of b to start")
        assert StepRecord.objects.get(instance=inst, name="c", rollback=True).status == "complete"
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_engine_worker("rollback-crash-2", **ENV)
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "errored", what="the instance to end errored")
    finally:
        stop(first)
        if second:
            stop(second)
    inst.refresh_from_db()
    assert inst.error["message"] == "the order was cancelled"
    assert (count("a"), count("b"), count("c")) == (1, 1, 1)
    assert (count("undo-c"), count("undo-b"), count("undo-a")) == (1, 2, 1)
    b = StepRecord.objects.get(instance=inst, name="b", rollback=True)
    assert (b.status, b.attempts) == ("complete", 2)
    attempts = list(Attempt.objects.filter(step=b).order_by("number").values_list("status", "error"))
    assert attempts[0][0] == "errored" and attempts[0][1]["name"] == "WorkerLostError"
    assert attempts[1] == ("complete", None)
    undone = list(StepRecord.objects.filter(instance=inst, rollback=True).order_by("pk").values_list("name", flat=True))
    assert undone == ["c", "b", "a"]
