"""Retention: finished instances older than their tenant's retention_days go, with every row
recorded about them, in small batches; active, young and other tenants' instances stay."""
import json
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from engine import retention, services
from engine.models import ActivityMinute, Attempt, Event, Instance, ProgressEvent, StepRecord
from tenants.models import Tenant, Usage
from tenants.quotas import usage_totals
from tenants.services import tenant_limits_set

from tests.builder.helpers import graph, publish
from tests.processes import start_engine_worker, stop, wait_for



@pytest.fixture(autouse=True)
def hook_waits(monkeypatch):
    """drive() runs the pump hooks in this process: keep the retention hook out of the way, so
    these tests choose when retention runs."""
    monkeypatch.setattr(retention, "_last_run", time.monotonic())
    monkeypatch.setattr(retention, "_cursor", 0)


FLAKY = """
export default async function run(event, step) {
  const got = await step.waitForEvent("go", { type: "go", timeout: "1 hour" });
  const a = await step.do("a", { retries: { limit: 1, delay: "1 second" } }, async (ctx) => {
    if (ctx.attempt === 1) throw new Error("first attempt fails");
    return "x".repeat(100);
  });
  console.log("done");
  return { a, got };
}"""
SLEEPER = "export default async function run(e, step) { await step.sleep('nap', '30 days'); return 1; }"
FAILS = "export default async function run(e, step) { await step.do('boom', { retries: { limit: 0 } }, async () => { throw new Error('no'); }); }"


def finish_flaky(tenant, wf, drive, clock, count: int) -> list:
    """Instances with steps, two attempts each, a consumed event, progress events and an output."""
    made = [services.instance_create(tenant=tenant, workflow=wf) for _ in range(count)]
    drive()
    for inst in made:
        services.event_send(tenant=tenant, instance_id=inst.pk, type="go", payload={"n": 1})
    drive()
    clock.advance(seconds=2)
    drive()
    assert Instance.objects.filter(pk__in=[i.pk for i in made], status="complete").count() == count
    return made


def rows_of(ids) -> dict:
    return {"steps": StepRecord.objects.filter(instance_id__in=ids).count(),
            "attempts": Attempt.objects.filter(step__instance_id__in=ids).count(),
            "events": Event.objects.filter(instance_id__in=ids).count(),
            "progress": ProgressEvent.objects.filter(instance_id__in=ids).count()}


def test_old_finished_instances_go_in_batches_with_all_their_rows(tenant, other_tenant, make_workflow, drive, clock):
    tenant_limits_set(tenant=tenant, limits={"retention_days": 7})
    flaky = make_workflow(FLAKY, slug="flaky")
    old = finish_flaky(tenant, flaky, drive, clock, 7)
    fails = services.instance_create(tenant=tenant, workflow=make_workflow(FAILS, slug="fails"))
    stopped = services.instance_create(tenant=tenant, workflow=flaky)
    sleeping = services.instance_create(tenant=tenant, workflow=make_workflow(SLEEPER, slug="sleeper"))
    drive()
    services.instance_terminate(tenant=tenant, instance_id=stopped.pk)
    paused = services.instance_create(tenant=tenant, workflow=flaky)
    services.instance_pause(tenant=tenant, instance_id=paused.pk)
    # The other tenant keeps the default (30 days): its instance finished as long ago stays.
    theirs = finish_flaky(other_tenant, make_workflow(FLAKY, slug="flaky", owner=other_tenant), drive, clock, 1)[0]
    gone = [i.pk for i in old] + [fails.pk, stopped.pk]
    assert Instance.objects.get(pk=fails.pk).status == "errored"
    before = rows_of(gone)
    assert before["steps"] >= 7 * 2 and before["attempts"] == 7 * 2 + 1 and before["events"] == 7 and before["progress"] >= 7 * 2
    cache.clear()  # usage_totals caches its sums for 10 s
    stored_before = usage_totals(Tenant.objects.get(pk=tenant.pk))[1]

    clock.advance(days=7, hours=1)
    young = finish_flaky(tenant, flaky, drive, clock, 1)[0]  # finished just now: kept
    outcome = retention.retention_run(now=clock.now(), batch=3)

    assert outcome.instances == 9 and outcome.batches == 3  # 3 + 3 + 3 in their own transactions
    assert not Instance.objects.filter(pk__in=gone).exists()
    assert rows_of(gone) == {"steps": 0, "attempts": 0, "events": 0, "progress": 0}
    kept = set(Instance.objects.values_list("pk", flat=True))
    assert {sleeping.pk, paused.pk, young.pk, theirs.pk} == kept
    assert rows_of([young.pk])["steps"] == 2 and rows_of([theirs.pk])["attempts"] == 2
    # The deleted outputs no longer count against the tenant's storage, and the dashboard knows.
    cache.clear()  # usage_totals caches its sums for 10 s
    assert usage_totals(Tenant.objects.get(pk=tenant.pk))[1] < stored_before
    assert sum(ActivityMinute.objects.values_list("purged", flat=True)) == 9
    assert retention.retention_run(now=clock.now()).instances == 0


def test_each_tenants_own_retention_is_honored(tenant, other_tenant, make_workflow, drive, clock):
    tenant_limits_set(tenant=tenant, limits={"retention_days": 2})
    tenant_limits_set(tenant=other_tenant, limits={"retention_days": 5})
    mine = finish_flaky(tenant, make_workflow(FLAKY, slug="flaky"), drive, clock, 2)
    theirs = finish_flaky(other_tenant, make_workflow(FLAKY, slug="flaky", owner=other_tenant), drive, clock, 2)
    clock.advance(days=3)
    assert retention.retention_run(now=clock.now()).instances == 2
    assert not Instance.objects.filter(pk__in=[i.pk for i in mine]).exists()
    assert Instance.objects.filter(pk__in=[i.pk for i in theirs]).count() == 2
    clock.advance(days=3)
    assert retention.retention_run(now=clock.now()).instances == 2
    assert not Instance.objects.exists()


def test_a_restarted_instance_is_kept_and_children_outlive_their_parent(tenant, make_workflow, drive, clock):
    tenant_limits_set(tenant=tenant, limits={"retention_days": 1})
    flaky = make_workflow(FLAKY, slug="flaky")
    restarted, parent = finish_flaky(tenant, flaky, drive, clock, 2)
    child = services.instance_create(tenant=tenant, workflow=make_workflow(SLEEPER, slug="sleeper"))
    Instance.objects.filter(pk=child.pk).update(parent=parent)
    clock.advance(days=2)
    services.instance_restart(tenant=tenant, instance_id=restarted.pk)
    assert retention.retention_run(now=clock.now()).instances == 1
    assert not Instance.objects.filter(pk=parent.pk).exists()
    assert Instance.objects.get(pk=child.pk).parent_id is None
    assert Instance.objects.get(pk=restarted.pk).status == "queued"


def test_webhook_deliveries_stay_deduplicated_for_24_hours(tenant, drive, clock):
    """The delivery id is the instance's key: the instance row is kept 24 h whatever the plan says."""
    Tenant.objects.filter(pk=tenant.pk).update(limits={"retention_days": 0})  # below any valid plan
    publish(tenant, graph([("hook", "webhook", {"auth": "none"}), ("echo", "code", {"code": "return input.body;"})],
                          [("hook", "echo")]), slug="orders")

    def deliver():
        answer = Client().post("/hooks/acme/orders", data=json.dumps({"order": 7}), content_type="application/json",
                               HTTP_IDEMPOTENCY_KEY="delivery-1")
        assert answer.status_code == 202
        return answer.json()["instance"]

    first = deliver()
    drive()
    assert Instance.objects.get(pk=first).status == "complete"
    clock.advance(hours=23)
    assert retention.retention_run(now=clock.now()).instances == 0
    assert deliver() == first and Instance.objects.count() == 1  # a retried delivery: the same instance
    clock.advance(hours=2)
    assert retention.retention_run(now=clock.now()).instances == 1
    assert not Instance.objects.exists()


def test_the_pump_hook_runs_at_most_once_an_interval(tenant, make_workflow, drive, clock, settings, monkeypatch):
    assert "engine.retention.retention_hook" in settings.ENGINE_PUMP_HOOKS
    tenant_limits_set(tenant=tenant, limits={"retention_days": 1})
    flaky = make_workflow(FLAKY, slug="flaky")
    finish_flaky(tenant, flaky, drive, clock, 1)
    clock.advance(days=2)
    monkeypatch.setattr(retention, "_last_run", None)
    retention.retention_hook(now=clock.now())
    assert not Instance.objects.exists()
    finish_flaky(tenant, flaky, drive, clock, 1)
    clock.advance(days=2)
    retention.retention_hook(now=clock.now())  # within the interval: nothing runs
    assert Instance.objects.count() == 1
    assert Usage.objects.filter(tenant=tenant).exists()


QUICK = """
export default async function run(event, step) {
  const a = await step.do("a", async () => 1);
  const b = await step.do("b", async () => a + 1);
  return await step.do("c", async () => b + 1);
}"""


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_retention_runs_beside_a_working_engine(tenant, make_workflow):
    """A real worker process keeps running instances while retention deletes thousands of old ones
    (here and, through its pump hook, in the worker process too)."""
    tenant_limits_set(tenant=tenant, limits={"retention_days": 1})
    wf = make_workflow(QUICK, slug="quick")
    long_ago = timezone.now() - timedelta(days=3)
    old = Instance.objects.bulk_create([
        Instance(tenant=tenant, workflow=wf, version=wf.published_version, key=f"old-{n}", status="complete",
                 output="3", created_at=long_ago, finished_at=long_ago) for n in range(2000)])
    StepRecord.objects.bulk_create([
        StepRecord(tenant=tenant, instance=inst, name=name, kind="do", status="complete", attempts=1, output="1",
                   started_at=long_ago, finished_at=long_ago) for inst in old for name in "abc"], batch_size=1000)
    fresh = [services.instance_create(tenant=tenant, workflow=wf) for _ in range(30)]
    worker = start_engine_worker("retention-beside-worker")
    try:
        deleted = 0
        for _ in range(200):  # 2,000 rows at 100 a batch: 20 runs are enough; a regression fails, never hangs
            if not Instance.objects.filter(key__startswith="old-").exists():
                break
            deleted += retention.retention_run(now=timezone.now(), batch=100, budget_seconds=0.5).instances
        else:
            raise AssertionError("retention did not delete the old instances in 200 runs")
        wait_for(lambda: Instance.objects.filter(pk__in=[i.pk for i in fresh], status="complete").count() == 30,
                 what="the new instances to complete")
        assert worker.poll() is None  # the worker never failed on a locked database
    finally:
        stop(worker)
    assert 0 < deleted <= 2000 and not StepRecord.objects.filter(instance__key__startswith="old-").exists()
    assert StepRecord.objects.filter(instance__in=fresh, status="complete").count() == 30 * 3


def test_a_keep_forever_retention_on_one_tenant_does_not_stop_retention_for_the_others(
        tenant, other_tenant, make_workflow, drive, clock):
    """An operator may enter a huge retention ("keep forever"): the cutoff must not overflow the
    datetime range, which stopped every run at that tenant and left later tenants' rows forever."""
    first, second = sorted([tenant, other_tenant], key=lambda t: t.pk)
    tenant_limits_set(tenant=first, limits={"retention_days": 999_999_999})
    tenant_limits_set(tenant=second, limits={"retention_days": 2})
    kept = finish_flaky(first, make_workflow(FLAKY, slug="flaky", owner=first), drive, clock, 1)
    gone = finish_flaky(second, make_workflow(FLAKY, slug="flaky", owner=second), drive, clock, 1)
    clock.advance(days=3)
    assert retention.retention_run(now=clock.now()).instances == 1
    assert Instance.objects.filter(pk=kept[0].pk).exists() and not Instance.objects.filter(pk=gone[0].pk).exists()
