"""The pool of fresh sandbox contexts (engine.sandbox.runtime.ContextPool) where the work is: a
steady trickle of instances through a real worker process takes a prepared context for (nearly)
every advance, in embedded mode and in a real Celery worker, also when the instances come faster
than the worker advances them (it is never idle, so only the refill after each advance keeps the
pool full). The takes are read from the workers' heartbeats, as the health dashboard reads them."""
import os
import time

import pytest

from engine import services
from engine.models import Instance, WorkerHeartbeat
from tests.processes import start_celery_worker, start_engine_worker, stop, wait_for

ONE_STEP = "export default async function run(e, step) { return await step.do('a', () => 1); }"
TRICKLE = 40
INTERVAL = 0.01  # faster than a worker advances instances: it never idles while they come


def takes(mode: str) -> dict[str, tuple[int, int]]:
    """Each worker process's context takes (hits, misses) since it started, as it last reported."""
    return {name: (h, m) for name, h, m in
            WorkerHeartbeat.objects.filter(mode=mode).values_list("name", "context_hits", "context_misses")}


def run_trickle(tenant, wf, mode: str, processes: int) -> tuple[int, int]:
    first = services.instance_create(tenant=tenant, workflow=wf)  # the workers are up and warm
    wait_for(lambda: Instance.objects.get(pk=first.pk).status == "complete", timeout=90, what="a first instance")
    # Every worker process has reported itself (its pool filled at start) before the counts are taken.
    wait_for(lambda: len(takes(mode)) >= processes and sum(h + m for h, m in takes(mode).values()) >= 1,
             what="a heartbeat of every worker process")
    before = takes(mode)

    def added() -> tuple[int, int]:
        now = takes(mode)
        return (sum(h - before.get(n, (0, 0))[0] for n, (h, m) in now.items()),
                sum(m - before.get(n, (0, 0))[1] for n, (h, m) in now.items()))

    made, next_at = [], time.monotonic()
    for _ in range(TRICKLE):
        made.append(services.instance_create(tenant=tenant, workflow=wf).pk)
        next_at += INTERVAL
        time.sleep(max(0.0, next_at - time.monotonic()))  # the trickle's pace, not a wait for a result
    wait_for(lambda: Instance.objects.filter(pk__in=made, status="complete").count() == TRICKLE, timeout=120,
             what="the trickle to complete")
    wait_for(lambda: sum(added()) >= TRICKLE, what="heartbeats with the trickle's takes")
    return added()


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_trickle_through_an_embedded_worker_hits_the_pool(tenant, make_workflow):
    wf = make_workflow(ONE_STEP)
    worker = start_engine_worker("pool-embedded", ENGINE_HEARTBEAT_SECONDS="0.2")
    try:
        hits, misses = run_trickle(tenant, wf, "embedded", 1)
    finally:
        stop(worker)
    assert hits + misses == TRICKLE  # one take per advance
    assert hits >= 0.9 * TRICKLE, (hits, misses)


@pytest.mark.distributed
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)")
def test_a_trickle_through_a_celery_worker_hits_the_pool(tenant, make_workflow, settings):
    settings.ENGINE_DISPATCH = "celery"
    wf = make_workflow(ONE_STEP)
    worker = start_celery_worker("pool-celery", ENGINE_HEARTBEAT_SECONDS="0.2")
    try:
        hits, misses = run_trickle(tenant, wf, "celery", 2)
    finally:
        stop(worker)
    assert hits + misses == TRICKLE
    assert hits >= 0.9 * TRICKLE, (hits, misses)
