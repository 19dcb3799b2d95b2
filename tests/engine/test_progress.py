"""The progress log's storage: events packed per commit, read back exactly as they were written."""
from datetime import timedelta

from django.db import transaction

from engine import clock, progress, selectors, services
from engine.models import ProgressEvent

SLEEPY = "export default async function run(e, step) { await step.sleep('nap', '1 day'); }"


def test_events_come_back_whole_with_their_own_times_whatever_their_kind(tenant, make_workflow):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(SLEEPY))  # event 1, its own row
    base = clock.now()
    items = [("log", "s", 2, {"message": "é ✓", "level": "info"}),
             ("rollback_started", "s", None, {"reason": "x"}),  # a kind with no stored number: kept by name
             ("workflow_waiting", None, None, None)]
    times = [base, base + timedelta(microseconds=1), base - timedelta(seconds=3)]  # any order, to the microsecond
    with transaction.atomic():
        assert progress.record(instance_id=inst.pk, tenant_id=tenant.pk, now=base, items=items, times=times) == 4
    events = selectors.progress_after(tenant=tenant, instance_id=inst.pk, after=1)
    assert [(e["eventId"], e["type"], e["step"], e["attempt"], e["timestamp"]) for e in events] == [
        (2, "log", "s", 2, times[0].isoformat()), (3, "rollback_started", "s", None, times[1].isoformat()),
        (4, "workflow_waiting", None, None, times[2].isoformat())]
    assert (events[0]["message"], events[1]["reason"]) == ("é ✓", "x")
    rows = list(ProgressEvent.objects.filter(instance=inst).order_by("event_id").values_list("event_id", "count", "lifecycle"))
    assert rows == [(1, 1, True), (4, 3, True)]  # one row per commit


def test_until_times_are_stored_short_and_read_back_as_written(tenant, make_workflow):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(SLEEPY))
    base = clock.now()
    untils = [(base + timedelta(days=30)).isoformat(), (base + timedelta(days=1)).replace(microsecond=0).isoformat(),
              "2026-01-01T00:00:00.5+00:00", "2026-01-01T00:00:00+01:00", "tomorrow"]  # the last three: kept as text
    items = [("sleep_started", "nap", None, {"until": u}) for u in untils] + [
        ("wait_started", "w", None, {"until": untils[0], "type": "go"})]
    with transaction.atomic():
        progress.record(instance_id=inst.pk, tenant_id=tenant.pk, now=base, items=items)
    events = selectors.progress_after(tenant=tenant, instance_id=inst.pk, after=1)
    assert [e["until"] for e in events] == untils + [untils[0]]
    stored = ProgressEvent.objects.get(instance=inst, event_id__gt=1).events
    # As numbers: the first two (UTC, as isoformat writes them); as text: the others, and the wait's
    # data (it holds more than the time).
    assert stored.count("until") == 4 and stored.count(untils[0]) == 1 and untils[1] not in stored


def test_a_long_commit_is_split_into_bounded_rows_and_read_from_any_id(tenant, make_workflow):
    inst = services.instance_create(tenant=tenant, workflow=make_workflow(SLEEPY))
    with transaction.atomic():
        progress.record(instance_id=inst.pk, tenant_id=tenant.pk, now=clock.now(),
                        items=[("log", None, None, {"message": str(n)}) for n in range(2, 2 + 3 * progress.PACK)])
    assert ProgressEvent.objects.filter(instance=inst).count() == 1 + 3
    last = 1 + 3 * progress.PACK
    for after in (0, 1, 2, progress.PACK, progress.PACK + 1, last - 1, last):
        ids = [e["eventId"] for e in selectors.progress_after(tenant=tenant, instance_id=inst.pk, after=after)]
        assert ids == list(range(after + 1, last + 1))
    assert len(selectors.progress_after(tenant=tenant, instance_id=inst.pk, after=0, limit=7)) == 7
