"""The dispatcher with real processes: recovery ahead of a backlog (embedded workers), and in
distributed mode a pump and a Celery worker that outlive a PostgreSQL restart and a Redis flush,
with at most one message queued per due instance."""
import glob
from datetime import datetime
import json
import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

from engine import clock, dispatch, progress, services
from engine.models import Instance, ProgressEvent, WorkerHeartbeat
from tests.processes import child_env, start, start_celery_worker, start_engine_worker, stop, wait_for, wait_progressing

from .capabilities import count, create_table

HANGS_ONCE = """
export default async function run(event, step) {
  // The first attempt hangs long enough for its worker to be killed; the retry returns at once.
  return await step.do("x", { retries: { limit: 3, delay: "1 second" } },
                       (ctx) => step.sideEffect({ label: "x", sleep: ctx.attempt === 1 ? 60 : 0 }));
}"""
QUICK = "export default async function run(event, step) { return await step.do('a', () => 1); }"
ENV = {"ENGINE_LEASE_SECONDS": "3", "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_instance_is_recovered_ahead_of_a_300_instance_backlog(tenant, make_workflow):
    create_table()
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 10_000}
    tenant.save()
    stuck = services.instance_create(tenant=tenant, workflow=make_workflow(HANGS_ONCE, slug="hangs"))
    first = start_engine_worker("recovery-worker-1", **ENV)
    second = None
    try:
        wait_for(lambda: count("x") == 1, what="the first attempt of x to start")
        backlog_wf = make_workflow(QUICK, slug="backlog")
        for _ in range(3):  # six rounds of due_ids (50 each): recovery must not wait for them
            services.instance_create_batch(tenant=tenant, workflow=backlog_wf, items=[{}] * 100)
        first.send_signal(signal.SIGKILL)
        first.wait()
        expiry = Instance.objects.get(pk=stuck.pk).due_at  # the dead worker's lease ends here
        second = start_engine_worker("recovery-worker-2", **ENV)
        def lost_attempts():
            return [e for e in progress.events_of(ProgressEvent.objects.filter(instance=stuck).order_by("event_id"))
                    if e["type"] == "attempt_errored"]

        wait_for(lost_attempts, timeout=120, what="the killed worker's instance to be recovered")
        recovered_at = datetime.fromisoformat(lost_attempts()[0]["timestamp"])
        # Its retry is due after the backlog's instances: it completes once they have (slowly on a
        # loaded machine, but they keep completing).
        wait_progressing(lambda: Instance.objects.get(pk=stuck.pk).status == "complete",
                         lambda: Instance.objects.filter(workflow=backlog_wf, status="complete").count(),
                         what="it to complete behind the backlog")
    finally:
        stop(first)
        if second:
            stop(second)
    # Recovery did not wait for the backlog: from the lease's expiry to the recovery, the worker
    # finished at most the round of due instances it was in (due_ids' limit: 50).
    overtaking = Instance.objects.filter(workflow=backlog_wf, started_at__gt=expiry, started_at__lt=recovered_at).count()
    assert overtaking <= 50, overtaking
    assert json.loads(Instance.objects.get(pk=stuck.pk).output) == {"done": "x"}


def distributed(test):
    for mark in (pytest.mark.distributed, pytest.mark.django_db(transaction=True),
                 pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)")):
        test = mark(test)
    return test


def redis_client():
    import redis

    return redis.Redis.from_url(django_settings.CELERY_BROKER_URL)


def run_pump_once() -> int:
    out = subprocess.run([sys.executable, "manage.py", "engine_pump", "--once"], cwd=django_settings.BASE_DIR,
                         env=child_env(),
                         capture_output=True, text=True, timeout=120, check=True)
    return int(out.stdout.split()[-1])


@distributed
def test_the_pump_queues_at_most_one_message_per_due_instance_and_resends_lost_ones(tenant, make_workflow, settings):
    settings.ENGINE_DISPATCH = "celery"
    r = redis_client()
    r.delete(dispatch.queue_name())
    wf = make_workflow(QUICK)
    services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 40)  # no worker runs: they stay due
    assert r.llen(dispatch.queue_name()) == 1  # one message for the commit (it says: 40 are due)
    # No worker took it: the pump queues the other 39 (a worker taking it would have).
    assert run_pump_once() == 39
    for _ in range(5):  # five pump intervals: nothing was lost, nothing is sent
        assert run_pump_once() == 0
    assert r.llen(dispatch.queue_name()) == 40
    # A worker that takes the commit's message now sends nothing more: one token per due instance is queued.
    assert dispatch.top_up(now=clock.now(), at_most=39) == 0
    r.flushall()  # the broker loses every message
    assert run_pump_once() == 40  # re-sent, since they may have been lost
    assert run_pump_once() == 0
    assert r.llen(dispatch.queue_name()) == 40
    r.delete(dispatch.queue_name())


def pg_restart() -> None:
    """Restart this test database's PostgreSQL server (fast shutdown: every connection is cut)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        data = cursor.fetchone()[0]
    connection.close()
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    subprocess.run(["su", "postgres", "-c", f"{pg_ctl} -D {data} -m fast -w restart -l {data}/../pg-restart.log"],
                   check=True, capture_output=True, timeout=120)


PROGRAM = """
export default async function run(event, step) {
  let total = 0;
  for (let i = 0; i < 5; i++) total += await step.do(`step_${i}`, () => i);
  await step.sleep("pause", "2 seconds");
  for (let i = 5; i < 10; i++) total += await step.do(`step_${i}`, () => i);
  return total;
}"""


@distributed
@pytest.mark.restarts_database
def test_pump_and_celery_worker_survive_a_database_restart_and_a_broker_flush(tenant, make_workflow, settings):
    assert connection.vendor == "postgresql", "the distributed suite runs on PostgreSQL"
    if os.geteuid() != 0 or not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
        pytest.skip("restarting PostgreSQL needs root and pg_ctl")
    settings.ENGINE_DISPATCH = "celery"
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 10_000}
    tenant.save()
    wf = make_workflow(PROGRAM)
    env = {"ENGINE_LEASE_SECONDS": "5"}
    worker = start_celery_worker("faults-celery-worker", **env)
    pump = start([sys.executable, "manage.py", "engine_pump", "--interval", "0.5"], "faults-engine-pump", **env)
    try:
        created = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 60)
        ids = [i.pk for i in created]
        wait_for(lambda: Instance.objects.filter(pk__in=ids, status="waiting").exists(), timeout=120,
                 what="some instances asleep")
        pg_restart()
        redis_client().flushall()
        wait_for(lambda: Instance.objects.filter(pk__in=ids, status="complete").count() == len(ids), timeout=240,
                 what="every instance to complete after the restart and the flush")
        assert pump.poll() is None and worker.poll() is None  # both kept going
    finally:
        stop(worker)
        stop(pump)
    for inst in Instance.objects.filter(pk__in=ids):
        assert json.loads(inst.output) == 45


@distributed
def test_in_celery_mode_a_flood_does_not_delay_another_tenants_new_instance(tenant, other_tenant, make_workflow, settings):
    """Tenant A has 1,000 instances (and as many messages sent) when tenant B creates one: B's
    runs within about one round of the Celery workers' dispatch, not behind A's messages."""
    settings.ENGINE_DISPATCH = "celery"
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 10_000}
    tenant.save()
    flood = make_workflow(QUICK, slug="flood")
    mine = make_workflow(QUICK, slug="mine", owner=other_tenant)
    for _ in range(10):
        services.instance_create_batch(tenant=tenant, workflow=flood, items=[{}] * 100)
    worker = start_celery_worker("flood-celery-worker")
    try:
        wait_for(lambda: Instance.objects.filter(workflow=flood, status="complete").count() >= 20, timeout=120,
                 what="the flood to be under way")
        created = services.instance_create(tenant=other_tenant, workflow=mine)
        wait_for(lambda: Instance.objects.filter(pk=created.pk, status="complete").exists(), timeout=120,
                 what="the other tenant's instance")
        started = Instance.objects.get(pk=created.pk).started_at
    finally:
        stop(worker)
    overtaking = Instance.objects.filter(workflow=flood, started_at__gt=created.created_at, started_at__lt=started).count()
    # At most each worker process's current round (due_ids' 50) plus the tokens in hand.
    assert overtaking <= 2 * 50 + 2, overtaking


@distributed
def test_a_commits_message_spreads_into_one_token_per_due_instance_at_the_worker(tenant, make_workflow, settings):
    """The web process sends one message per commit; the Celery worker that takes it queues the
    other instances' tokens, so they run in parallel, and never more tokens than due instances."""
    settings.ENGINE_DISPATCH = "celery"
    r = redis_client()
    r.delete(dispatch.queue_name())
    tenant.limits = {"creations_per_minute": 10_000, "concurrent_instances": 10_000}
    tenant.save()
    wf = make_workflow(QUICK)
    created = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 30)
    assert r.llen(dispatch.queue_name()) == 1
    worker = start_celery_worker("spread-celery-worker", ENGINE_HEARTBEAT_SECONDS="0.2")
    try:
        ids = [i.pk for i in created]
        wait_for(lambda: Instance.objects.filter(pk__in=ids, status="complete").count() == 30, timeout=120,
                 what="every instance of the commit to complete without a pump")
        # Both worker processes advanced some (a single token passed on would have run them one by one).
        wait_for(lambda: WorkerHeartbeat.objects.filter(mode="celery", instances_advanced__gt=0).count() >= 2,
                 timeout=30, what="both Celery processes to report instances advanced")
    finally:
        stop(worker)
    r.delete(dispatch.queue_name())
