"""Crash-proof: a worker process killed with SIGKILL mid-step; another worker finishes the instance."""
import json
import signal

import pytest

from engine import services
from engine.models import Attempt, Instance, StepRecord
from tests.processes import start_engine_worker, stop, wait_for

from .capabilities import count, create_table

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

PROGRAM = """
export default async function run(event, step) {
  const a = await step.do("a", () => step.sideEffect({ label: "a" }));
  // The first attempt of b hangs long enough to be killed; the retry returns at once.
  const b = await step.do("b", { retries: { limit: 3, delay: "1 second" } },
                          (ctx) => step.sideEffect({ label: "b", sleep: ctx.attempt === 1 ? 60 : 0 }));
  const c = await step.do("c", () => step.sideEffect({ label: "c" }));
  return [a, b, c];
}"""
ENV = {"ENGINE_LEASE_SECONDS": "2", "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}


def test_it_resumes_after_worker_crash(tenant, make_workflow):
    create_table()
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    first = start_engine_worker("crash-worker-1", **ENV)
    second = None
    try:
        wait_for(lambda: count("b") == 1, what="the first attempt of step b to start")
        first.send_signal(signal.SIGKILL)
        first.wait()
        inst.refresh_from_db()
        assert inst.status == "running"  # nobody has noticed yet: the lease has not expired
        assert StepRecord.objects.get(instance=inst, name="b").status == "running"

        second = start_engine_worker("crash-worker-2", **ENV)
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", what="the instance to complete")
    finally:
        stop(first)
        if second:
            stop(second)
    inst.refresh_from_db()
    assert json.loads(inst.output) == [{"done": "a"}, {"done": "b"}, {"done": "c"}]
    # Committed steps' side effects happened once; the interrupted step ran again as a new attempt.
    assert (count("a"), count("b"), count("c")) == (1, 2, 1)
    b = StepRecord.objects.get(instance=inst, name="b")
    assert (b.status, b.attempts) == ("complete", 2)
    attempts = list(Attempt.objects.filter(step=b).order_by("number").values_list("status", "error"))
    assert attempts[0][0] == "errored" and attempts[0][1]["name"] == "WorkerLostError"
    assert attempts[1] == ("complete", None)
    assert inst.recoveries == 0


def test_a_killed_worker_is_replaced_and_its_instance_recovered(tenant, make_workflow, settings):
    """What happens when the OS kills a worker (e.g. its memory cap): the supervisor starts another."""
    import os

    from django.db import connection

    from engine.worker import Supervisor
    from tests.engine.capabilities import CAPABILITIES

    create_table()
    wf = make_workflow(PROGRAM)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    databases = {"default": {**settings.DATABASES["default"], "NAME": connection.settings_dict["NAME"]}}
    supervisor = Supervisor(1, overrides={
        "DATABASES": databases, "ENGINE_LEASE_SECONDS": 2.0,
        "ENGINE_CAPABILITIES": {**settings.ENGINE_CAPABILITIES, **CAPABILITIES},
    }, restart_delay=0.1)
    supervisor.start()
    try:
        wait_for(lambda: count("b") == 1, what="the first attempt of step b to start")
        [victim] = supervisor.pids()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: supervisor.pids() and supervisor.pids() != [victim], what="a replacement worker")
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", what="the instance to complete")
    finally:
        supervisor.stop()
    assert supervisor.restarts == 1
    assert (count("a"), count("b"), count("c")) == (1, 2, 1)


def test_a_set_of_workers_runs_the_pump_hooks_in_one_process(settings):
    """Schedules, retention and compaction are looked at by one worker of a supervised set (slot 0,
    every dispatch.HOOKS_EVERY), not by each: idle workers other than that one do no periodic work."""
    import os
    from pathlib import Path

    from django.db import connection

    from engine.worker import Supervisor
    from tests.processes import wait_for

    pids = Path(settings.VAR_DIR) / "hook-pids"
    pids.unlink(missing_ok=True)
    databases = {"default": {**settings.DATABASES["default"], "NAME": connection.settings_dict["NAME"]}}
    supervisor = Supervisor(3, overrides={"DATABASES": databases,
                                          "ENGINE_PUMP_HOOKS": ["tests.engine.capabilities.record_hook_pid"]})
    supervisor.start()
    try:
        wait_for(lambda: pids.exists() and len(pids.read_text().split()) >= 2, timeout=60,
                 what="two runs of the hooks")
        slots = {slot: proc.pid for slot, proc in supervisor.procs.items()}
    finally:
        supervisor.stop()
    assert len(slots) == 3 and set(pids.read_text().split()) == {str(slots[0])}
    os.remove(pids)
