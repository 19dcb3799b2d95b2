"""The pool of fresh sandbox contexts (engine.sandbox.runtime.ContextPool) where the work is: a
steady trickle of instances through a real worker process takes a prepared context for (nearly)
every advance, in embedded mode and in a real Celery worker, also when the instances come faster
than the worker advances them (it is never idle, so only the refill after each advance keeps the
pool full). The takes are read from the workers' heartbeats, as the health dashboard reads them."""
import os
import sys
import time

import pytest
from django.utils import timezone

from engine import services
from engine.models import Instance, WorkerHeartbeat
from tests.processes import start, start_engine_worker, stop, wait_for

ONE_STEP = "export default async function run(e, step) { return await step.do('a', () => 1); }"
TRICKLE = 40
INTERVAL = 0.01  # faster than a worker advances instances: it never idles while they come


def takes(mode: str, since) -> tuple[int, int]:
    rows = WorkerHeartbeat.objects.filter(mode=mode, last_seen__gte=since)
    return sum(r.context_hits for r in rows), sum(r.context_misses for r in rows)


def run_trickle(tenant, wf, mode: str) -> tuple[int, int]:
    since = timezone.now()
    first = services.instance_create(tenant=tenant, workflow=wf)  # the worker is up and warm
    wait_for(lambda: Instance.objects.get(pk=first.pk).status == "complete", timeout=90, what="a first instance")
    wait_for(lambda: sum(takes(mode, since)) >= 1, what="a heartbeat with the first take")
    hits0, misses0 = takes(mode, since)
    made, next_at = [], time.monotonic()
    for _ in range(TRICKLE):
        made.append(services.instance_create(tenant=tenant, workflow=wf).pk)
        next_at += INTERVAL
        time.sleep(max(0.0, next_at - time.monotonic()))  # the trickle's pace, not a wait for a result
    wait_for(lambda: Instance.objects.filter(pk__in=made, status="complete").count() == TRICKLE, timeout=120,
             what="the trickle to complete")
    wait_for(lambda: sum(takes(mode, since)) - hits0 - misses0 >= TRICKLE, what="heartbeats with the trickle's takes")
    hits, misses = takes(mode, since)
    return hits - hits0, misses - misses0


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_trickle_through_an_embedded_worker_hits_the_pool(tenant, make_workflow):
    wf = make_workflow(ONE_STEP)
    worker = start_engine_worker("pool-embedded", ENGINE_HEARTBEAT_SECONDS="0.2")
    try:
        hits, misses = run_trickle(tenant, wf, "embedded")
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
    worker = start([sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-c", "2", "-l", "warning",
                    "--without-gossip", "--without-mingle", "--without-heartbeat"], "pool-celery",
                   ENGINE_HEARTBEAT_SECONDS="0.2")
    try:
        hits, misses = run_trickle(tenant, wf, "celery")
    finally:
        stop(worker)
    assert hits + misses == TRICKLE
    assert hits >= 0.9 * TRICKLE, (hits, misses)
