"""A workflow's `concurrency: {limit}`: instances over it stay queued (never refused) and run
when a slot frees; it holds together with the tenant plan's cap; in-process claims, embedded
worker processes, and (distributed suite) a real Celery worker."""
import os
import sys

import pytest
from django.db import connection

from builder.services import workflow_set_concurrency
from engine import runner, services
from engine.models import Instance
from tests.processes import start, start_celery_worker, start_engine_worker, stop, wait_for

from .capabilities import peak_overlap, spans_table

SPAN = """
export default async function run(event, step) {
  await step.do("work", () => step.span({ label: "work", sleep: %s }));
  return event.payload.n;
}"""
ENV = {"ENGINE_EXTRA_CAPABILITIES": "span=tests.engine.capabilities.span"}


def limited(make_workflow, limit, slug="limited", sleep=0):
    wf = make_workflow(SPAN % sleep, slug=slug)
    workflow_set_concurrency(workflow=wf, limit=limit)
    return wf


def test_instances_over_the_workflow_limit_stay_queued_for_their_turn(tenant, clock, make_workflow, drive):
    wf = limited(make_workflow, 2)
    other = make_workflow(SPAN % 0, slug="other")
    insts = [services.instance_create(tenant=tenant, workflow=wf, params={"n": n}) for n in range(3)]
    free = services.instance_create(tenant=tenant, workflow=other, params={"n": 9})
    claimed = [runner.claim(i.pk, worker=f"w{n}", now=clock.now()) for n, i in enumerate(insts)]
    assert [c is not None for c in claimed] == [True, True, False]
    third = Instance.objects.get(pk=insts[2].pk)
    assert (third.status, third.lease_owner, third.due_at) == ("queued", "", clock.now())  # waits, not refused
    assert runner.claim(free.pk, worker="w9", now=clock.now()) is not None  # another workflow is not limited
    # A slot frees when a claimed instance's lease ends: the queued one gets it.
    Instance.objects.filter(pk=insts[0].pk).update(lease_owner="", due_at=None, status="complete")
    assert runner.claim(insts[2].pk, worker="w2", now=clock.now()) is not None


def test_the_workflow_limit_and_the_tenant_cap_both_hold(tenant, clock, make_workflow):
    tenant.limits = {"concurrent_instances": 3}
    tenant.save()
    a, b = limited(make_workflow, 2, slug="a"), make_workflow(SPAN % 0, slug="b")
    a_insts = [services.instance_create(tenant=tenant, workflow=a, params={"n": n}) for n in range(3)]
    b_insts = [services.instance_create(tenant=tenant, workflow=b, params={"n": n}) for n in range(2)]
    order = [a_insts[0], a_insts[1], a_insts[2], b_insts[0], b_insts[1]]
    got = [runner.claim(i.pk, worker=f"w{n}", now=clock.now()) is not None for n, i in enumerate(order)]
    # a's third is over a's limit (2); b's second is over the tenant's cap (3 running).
    assert got == [True, True, False, True, False]


def test_clearing_the_limit_lets_queued_instances_run(tenant, clock, make_workflow, drive):
    wf = limited(make_workflow, 1)
    insts = [services.instance_create(tenant=tenant, workflow=wf, params={"n": n}) for n in range(2)]
    assert runner.claim(insts[0].pk, worker="w0", now=clock.now()) is not None
    assert runner.claim(insts[1].pk, worker="w1", now=clock.now()) is None
    workflow_set_concurrency(workflow=wf, limit=None)
    assert runner.claim(insts[1].pk, worker="w1", now=clock.now()) is not None


def test_every_instance_completes_under_a_limit_in_process(tenant, clock, make_workflow, drive, side_effects):
    spans_table()
    wf = limited(make_workflow, 1)
    for n in range(5):
        services.instance_create(tenant=tenant, workflow=wf, params={"n": n})
    drive()
    assert sorted(Instance.objects.filter(workflow=wf).values_list("status", flat=True)) == ["complete"] * 5


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_embedded_workers_never_run_more_than_the_limit(tenant, make_workflow):
    """Three worker processes, a limit of 2: never three steps at once, and two at once do happen."""
    spans_table()
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 100}
    tenant.save()
    wf = limited(make_workflow, 2, sleep=0.4)
    workers = [start_engine_worker(f"limit-worker-{n}", **ENV) for n in range(3)]
    try:
        services.instance_create_batch(tenant=tenant, workflow=wf, items=[{"params": {"n": n}} for n in range(12)])
        wait_for(lambda: Instance.objects.filter(workflow=wf, status="complete").count() == 12, timeout=120,
                 what="12 instances to complete under the limit")
    finally:
        for w in workers:
            stop(w)
    assert peak_overlap("work") == (12, 2)


@pytest.mark.distributed
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)")
def test_celery_workers_never_run_more_than_the_limit(tenant, make_workflow, settings):
    assert connection.vendor == "postgresql", "the distributed suite runs on PostgreSQL"
    settings.ENGINE_DISPATCH = "celery"
    spans_table()
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 100}
    tenant.save()
    wf = limited(make_workflow, 2, sleep=0.4)
    worker = start_celery_worker("limit-celery-worker", concurrency=3, **ENV)
    pump = start([sys.executable, "manage.py", "engine_pump", "--interval", "0.5"], "limit-engine-pump", **ENV)
    try:
        services.instance_create_batch(tenant=tenant, workflow=wf, items=[{"params": {"n": n}} for n in range(12)])
        wait_for(lambda: Instance.objects.filter(workflow=wf, status="complete").count() == 12, timeout=120,
                 what="12 instances to complete through Celery under the limit")
    finally:
        stop(worker)
        stop(pump)
    assert peak_overlap("work") == (12, 2)
