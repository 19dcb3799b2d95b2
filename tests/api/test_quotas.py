"""Quotas, fairness and suspension."""
import json

from builder.models import Schedule
from engine import dispatch, runner
from engine.models import Instance
from engine.services import instance_create_batch
from tenants.models import Usage
from tenants.services import tenant_suspend, tenant_unsuspend

from tests.builder.helpers import graph, publish, start

SLEEPER = graph([("start", "manual", {}), ("nap", "sleep", {"duration": "1 hour"}), ("done", "code", {"code": "return 'ok';"})],
                [("start", "nap"), ("nap", "done")])


def test_creations_per_minute_answer_429_with_retry_after(api, tenant, workflow, clock):
    tenant.limits = {"creations_per_minute": 3}
    tenant.save()
    clock.advance(seconds=50)
    codes = [api.post(f"/workflows/{workflow['id']}/instances", {}).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    r = api.post(f"/workflows/{workflow['id']}/instances", {})
    assert r.data["error"]["code"] == "rate_limited" and r["Retry-After"] == "10"
    clock.advance(seconds=10)  # the next minute of the engine clock: a fresh window
    assert api.post(f"/workflows/{workflow['id']}/instances", {}).status_code == 201


def test_monthly_steps_and_storage_quotas_answer_403(api, tenant, workflow, clock):
    from django.utils import timezone

    Usage.objects.create(tenant=tenant, day=timezone.now().date(), steps=100, bytes_stored=10)
    tenant.limits = {"steps_per_month": 100}
    tenant.save()
    r = api.post(f"/workflows/{workflow['id']}/instances", {})
    assert r.status_code == 403 and "steps" in r.data["error"]["message"]
    tenant.limits = {"stored_bytes": 10}
    tenant.save()
    assert api.post(f"/workflows/{workflow['id']}/instances", {}).status_code == 403


def test_excess_instances_queue_beyond_the_concurrency_cap(tenant, clock):
    tenant.limits = {"concurrent_instances": 2}
    tenant.save()
    wf = publish(tenant, SLEEPER)
    insts = [start(tenant, wf) for _ in range(3)]
    claimed = [runner.claim(i.pk, worker="w", now=clock.now()) for i in insts]
    assert [c is not None for c in claimed] == [True, True, False]
    third = Instance.objects.get(pk=insts[2].pk)
    assert (third.status, third.lease_owner, third.due_at) == ("queued", "", clock.now())  # its turn comes, not refused


def test_a_flooding_tenant_does_not_delay_another(tenant, other_tenant, clock, drive):
    """10,000 queued instances of one tenant; the other tenant's new instance is in the first round."""
    tenant.limits = {"creations_per_minute": 20000}
    tenant.save()
    flood = publish(tenant, graph([("start", "manual", {})], []), slug="flood")
    for _ in range(100):
        instance_create_batch(tenant=tenant, workflow=flood, items=[{}] * 100)
    mine = start(other_tenant, publish(other_tenant, graph([("start", "manual", {})], []), slug="mine"))
    first_round = dispatch.due_ids(now=clock.now())
    assert mine.pk in first_round[:2]


def test_suspension_pauses_everything_and_unsuspension_resumes_it(tenant, clock, drive):
    wf = publish(tenant, SLEEPER)
    sleeping = start(tenant, wf)
    drive()
    queued = start(tenant, wf)
    user_paused = start(tenant, wf)
    from engine.services import instance_pause

    instance_pause(tenant=tenant, instance_id=user_paused.pk)
    publish(tenant, graph([("t", "schedule", {"cron": "* * * * *"})], []), slug="ticker")
    assert tenant_suspend(tenant=tenant) == 2
    assert set(Instance.objects.filter(tenant=tenant).values_list("status", flat=True)) == {"paused"}
    clock.advance(hours=2)
    drive()  # nothing runs, no schedule fires
    assert set(Instance.objects.filter(tenant=tenant).values_list("status", flat=True)) == {"paused"}
    assert tenant_unsuspend(tenant=tenant) == 2
    drive()
    clock.advance(hours=1)
    drive()
    statuses = {i: Instance.objects.get(pk=i.pk).status for i in (sleeping, queued, user_paused)}
    assert statuses == {sleeping: "complete", queued: "complete", user_paused: "paused"}
    assert json.loads(Instance.objects.get(pk=sleeping.pk).output) == "ok"
    assert Schedule.objects.filter(workflow__slug="ticker").exists()


def test_suspension_defers_to_running_workers_and_touches_only_its_tenant(tenant, other_tenant, clock):
    """A running instance (a worker holds it) is asked to pause at its next commit, marked as the
    suspension's; a pause the user asked for stays the user's; another tenant's instances and
    their events are untouched by both suspension and unsuspension."""
    from engine.models import ProgressEvent
    from engine.services import instance_pause

    def running(owner):
        inst = start(owner, publish(owner, SLEEPER, slug=f"s{Instance.objects.count()}"))
        assert runner.claim(inst.pk, worker="w", now=clock.now())
        Instance.objects.filter(pk=inst.pk).update(status="running")  # the worker's first commit
        return inst

    def state(inst):
        i = Instance.objects.get(pk=inst.pk)
        return i.status, i.suspended, i.lease_owner

    busy, user_pausing = running(tenant), running(tenant)
    instance_pause(tenant=tenant, instance_id=user_pausing.pk)
    theirs = [running(other_tenant), start(other_tenant, publish(other_tenant, SLEEPER, slug="idle"))]
    before = [state(i) for i in theirs], ProgressEvent.objects.filter(tenant=other_tenant).count()

    assert tenant_suspend(tenant=tenant) == 1
    assert state(busy) == ("waitingForPause", True, "w")  # the worker keeps it until its next commit
    assert state(user_pausing) == ("waitingForPause", False, "w")
    assert ([state(i) for i in theirs], ProgressEvent.objects.filter(tenant=other_tenant).count()) == before

    assert tenant_unsuspend(tenant=tenant) == 1
    assert state(busy) == ("running", False, "w")
    assert state(user_pausing) == ("waitingForPause", False, "w")  # the user's pause is not withdrawn
    assert ([state(i) for i in theirs], ProgressEvent.objects.filter(tenant=other_tenant).count()) == before


def test_suspension_records_why_instances_paused_and_resumed(tenant, other_tenant, clock):
    from engine.models import ProgressEvent
    from engine.progress import events_of

    queued = start(tenant, publish(tenant, SLEEPER))
    theirs = start(other_tenant, publish(other_tenant, SLEEPER))
    def events(inst):
        return events_of(ProgressEvent.objects.filter(instance=inst).order_by("event_id"))

    theirs_before = events(theirs)
    tenant_suspend(tenant=tenant)
    tenant_unsuspend(tenant=tenant)
    paused, resumed = events(queued)[-2:]
    assert (paused["type"], paused.get("suspended"), resumed["type"], resumed.get("unsuspended")) == (
        "workflow_paused", True, "workflow_queued", True)
    i = Instance.objects.get(pk=queued.pk)
    assert (i.status, i.suspended, i.due_at) == ("queued", False, clock.now())
    assert Instance.objects.get(pk=theirs.pk).status == "queued"
    assert events(theirs) == theirs_before
