"""The health dashboard (the console's home page) and the same figures at /metrics: staff only,
figures from the engine's rows and the workers' heartbeats, a bounded number of queries."""
import os
import signal
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engine import heartbeat, services
from engine.models import ActivityMinute, Instance, WorkerHeartbeat
from tenants.services import tenant_create
from tenants.usage import usage_add
from tests.accounts import operator_client
from tests.engine.capabilities import count, create_table
from tests.processes import start_celery_worker, start_engine_worker, stop, wait_for

SLEEPER = """
export default async function run(event, step) {
  await step.do("one", async () => 1);
  await step.do("two", async () => 2);
  await step.sleep("nap", "1 hour");
  return 3;
}"""
QUICK = "export default async function run(e, step) { return await step.do('only', async () => 1); }"


def seed(tenant, make_workflow, drive, *, sleeping: int = 2, queued: int = 3) -> None:
    """Sleeping instances (timers), queued ones (backlog), a complete one, and a heartbeat."""
    sleeper = make_workflow(SLEEPER, slug="sleeper", owner=tenant)
    quick = make_workflow(QUICK, slug="quick", owner=tenant)
    for _ in range(sleeping):
        services.instance_create(tenant=tenant, workflow=sleeper)
    services.instance_create(tenant=tenant, workflow=quick)
    drive()  # runs them in this process, counting advances and steps
    for _ in range(queued):
        services.instance_create(tenant=tenant, workflow=quick)
    heartbeat.Beat(name="embedded:test-host:4242:abcdef", mode="embedded").beat()


def test_the_dashboard_shows_the_engine_figures_to_staff(console, tenant, make_workflow, drive):
    seed(tenant, make_workflow, drive)
    page = console.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Platform health" in html
    d = page.context["dashboard"]
    f = d["f"]
    assert f.statuses["waiting"] == 2 and f.statuses["complete"] == 1 and f.statuses["queued"] == 3
    assert f.backlog == 3 and f.timers_pending == 2 and f.timers_next_hour == 2
    assert f.workers_alive["embedded"] >= 1
    worker = next(w for w in f.workers if w.name == "embedded:test-host:4242:abcdef")
    assert worker.instances_advanced >= 3 and worker.steps >= 5 and worker.pid == os.getpid()
    assert worker.programs_cached >= 2 and worker.program_misses >= 1
    assert f.last_hour["steps"] >= 5 and f.last_hour["advances"] >= 3
    assert [t["slug"] for t in f.top_tenants] == ["acme"]
    # What the page shows: the cards, the worker's row, the tenant, and the charts' data.
    assert 'data-figure="runnable-backlog">3<' in html
    assert "embedded:test-host:4242:abcdef" in html and ">acme</a>" in html
    assert 'class="chart"' in html and "Steps per minute, last hour" in html


def test_non_staff_are_refused(tenant, client):
    assert client.get("/admin/").status_code == 302  # to the login page
    User.objects.create_user("member", password="pw")
    member = Client()
    member.login(username="member", password="pw")
    answer = member.get("/admin/")
    assert answer.status_code == 302 and "/admin/login/" in answer["Location"]


def test_the_dashboard_queries_do_not_grow_with_instances_tenants_or_workers(console, tenant, make_workflow, drive):
    seed(tenant, make_workflow, drive, sleeping=1, queued=1)
    with CaptureQueriesContext(connection) as captured:
        assert console.get("/admin/").status_code == 200
    small = len(captured)  # now: the next request resets the query log this context reads
    seed(tenant_create(slug="second"), make_workflow, drive, sleeping=5, queued=10)
    for n in range(20):
        heartbeat.Beat(name=f"celery:host-{n}:{n}", mode="celery").beat()
        usage_add(tenant_id=tenant_create(slug=f"t{n}").pk, day=timezone.now().date(), steps=n + 1)
    with CaptureQueriesContext(connection) as large:
        assert console.get("/admin/").status_code == 200
    assert 5 < len(large) == small <= 25, [q["sql"] for q in large.captured_queries]


def test_metrics_expose_the_dashboard_figures(tenant, make_workflow, drive, settings):
    seed(tenant, make_workflow, drive)
    settings.METRICS_TOKEN = "scrape-me"
    body = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").content.decode()
    for line in ['engine_instances{status="waiting"} 2', "engine_due_backlog 3", "engine_timers_pending 2",
                 'engine_worker_instances_advanced{worker="embedded:test-host:4242:abcdef",mode="embedded"}',
                 'tenant_steps_month{tenant="acme"} ']:
        assert line in body, line
    values = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if not line.startswith("#")}
    assert values['engine_workers{mode="embedded"}'] >= 1 and values["engine_sandbox_programs_cached"] >= 2
    assert "engine_steps_last_hour " in body and "engine_recoveries_last_hour 0" in body
    assert Client().get("/metrics").status_code == 404  # still staff or the token only


def test_stale_heartbeats_are_marked_then_pruned(console, settings):
    beat = heartbeat.Beat(name="embedded:gone:1:aaaaaa", mode="embedded")
    beat.beat()
    WorkerHeartbeat.objects.filter(name=beat.name).update(last_seen=timezone.now() - timedelta(minutes=2))
    f = console.get("/admin/").context["dashboard"]["f"]
    assert f.workers_alive["embedded"] == 0 and not f.workers[0].alive
    ActivityMinute.objects.create(minute=timezone.now().replace(second=0, microsecond=0) - timedelta(days=2), steps=5)
    WorkerHeartbeat.objects.filter(name=beat.name).update(last_seen=timezone.now() - timedelta(hours=1))
    heartbeat.prune(now=timezone.now())
    # (only this beat: a live process of another test may be writing its own heartbeat meanwhile)
    assert not WorkerHeartbeat.objects.filter(name=beat.name).exists() and not ActivityMinute.objects.filter(steps=5).exists()


CRASHY = """
export default async function run(event, step) {
  await step.do("a", () => step.sideEffect({ label: "a" }));
  // The first attempt hangs until its worker is killed; the retry returns at once.
  await step.do("b", { retries: { limit: 3, delay: "1 second" } },
                (ctx) => step.sideEffect({ label: "b", sleep: ctx.attempt === 1 ? 60 : 0 }));
  return 1;
}"""
WORKER_ENV = {"ENGINE_LEASE_SECONDS": "2", "ENGINE_HEARTBEAT_SECONDS": "0.2",
              "ENGINE_EXTRA_CAPABILITIES": "sideEffect=tests.engine.capabilities.side_effect"}


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_real_worker_processes_write_heartbeats_and_recoveries(tenant, make_workflow, operator):
    """A worker is killed mid-step; the one that recovers the instance reports the recovery."""
    create_table()
    wf = make_workflow(CRASHY)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    first = start_engine_worker("dashboard-worker-1", **WORKER_ENV)
    second = None
    try:
        wait_for(lambda: count("b") == 1, what="the first attempt of step b to start")
        # It beats while its advance is blocked in step b (the heartbeat has a thread of its own).
        wait_for(lambda: WorkerHeartbeat.objects.filter(pid=first.pid, mode="embedded", programs_cached=1,
                                                        instances_advanced=1, steps=2).exists(),
                 what="the first worker's heartbeat during its advance")
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_engine_worker("dashboard-worker-2", **WORKER_ENV)
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", what="the instance to complete")
        row = wait_for(lambda: WorkerHeartbeat.objects.filter(pid=second.pid, recoveries=1, steps__gte=1).first(),
                       what="the second worker's heartbeat with its recovery")
    finally:
        stop(first)
        if second:
            stop(second)
    assert row.instances_advanced >= 1 and row.program_misses == 1 and row.host
    assert 0 <= row.contexts_ready <= 4 and row.rss_bytes > 10 * 2**20  # the pool holds at most ENGINE_CONTEXT_POOL
    assert row.context_hits + row.context_misses >= row.instances_advanced  # each advance took a context
    minutes = ActivityMinute.objects.filter(minute__gte=timezone.now() - timedelta(minutes=5))
    assert sum(m.recoveries for m in minutes) == 1 and sum(m.lost_attempts for m in minutes) == 1
    assert sum(m.steps for m in minutes) >= 3  # a, b (killed), b again
    console = operator_client(Client(), operator)
    f = console.get("/admin/").context["dashboard"]["f"]
    assert f.last_hour["recoveries"] == 1 and f.last_hour["lost_attempts"] == 1
    assert {w.pid for w in f.workers} == {first.pid, second.pid}


@pytest.mark.distributed
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="distributed mode needs REDIS_URL (see README)")
def test_celery_worker_processes_write_heartbeats(tenant, make_workflow, settings):
    settings.ENGINE_DISPATCH = "celery"
    wf = make_workflow(QUICK)
    worker = start_celery_worker("dashboard-celery-worker", ENGINE_HEARTBEAT_SECONDS="0.3")
    try:
        # Idle worker processes report themselves too (their heartbeat thread starts with them).
        wait_for(lambda: WorkerHeartbeat.objects.filter(mode="celery").count() == 2, timeout=60,
                 what="both Celery worker processes' heartbeats")
        inst = services.instance_create(tenant=tenant, workflow=wf)
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", timeout=60, what="the instance")
        wait_for(lambda: WorkerHeartbeat.objects.filter(mode="celery", instances_advanced__gte=1, steps__gte=1).exists(),
                 timeout=30, what="a heartbeat counting the advance")
    finally:
        stop(worker)
    pids = set(WorkerHeartbeat.objects.filter(mode="celery").values_list("pid", flat=True))
    assert len(pids) == 2 and worker.pid not in pids  # the pool's processes, not the parent
