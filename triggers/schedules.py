"""Schedule triggers: a published `schedule` node starts instances on its cron, in its time zone.

Invariants:
- One Schedule row per schedule trigger of the published version (re-synced on publish/archive).
- Firing claims a slot with a compare-and-set on `next_at`, and the instance id is derived from
  the slot (`s-<node>-<epoch>`), so two pumps never fire the same slot twice.
- Overlap "skip": a slot is skipped while an instance from an earlier slot is still active.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from django.db import transaction

from engine import clock

from builder.graph import parse
from builder.models import Schedule, Workflow, WorkflowVersion


def next_slot(cron: str, tz: str, after: datetime) -> datetime:
    local = after.astimezone(ZoneInfo(tz or "UTC"))
    return croniter(cron, local).get_next(datetime)


def schedules_sync(*, workflow: Workflow, version: WorkflowVersion | None) -> None:
    """Replace the workflow's schedules with the schedule triggers of `version` (None: stop them)."""
    Schedule.objects.filter(workflow=workflow).delete()
    if version is None or workflow.archived or not version.graph:
        return
    now = clock.now()
    for node in parse(version.graph).nodes.values():
        if node.type == "schedule":
            cron, tz = node.data["cron"], node.data.get("timezone") or "UTC"
            Schedule.objects.create(tenant_id=workflow.tenant_id, workflow=workflow, version=version, node_id=node.id,
                                    cron=cron, timezone=tz, overlap=node.data.get("overlap", "skip"),
                                    next_at=next_slot(cron, tz, now))


def slot_key(node_id: str, slot: datetime) -> str:
    node = hashlib.sha256(node_id.encode()).hexdigest()[:10]
    return f"s-{node}-{int(slot.timestamp())}"


def schedules_fire(*, now: datetime | None = None, limit: int = 100) -> int:
    """Start the instances of every due schedule slot (called by the pump and idle workers)."""
    from engine.selectors import active_with_key_prefix
    from engine.services import instance_create

    now = now or clock.now()
    fired = 0
    for schedule in Schedule.objects.filter(active=True, next_at__lte=now).select_related("workflow", "tenant")[:limit]:
        slot = schedule.next_at
        following = next_slot(schedule.cron, schedule.timezone, max(now, slot))
        with transaction.atomic():
            if not Schedule.objects.filter(pk=schedule.pk, next_at=slot).update(next_at=following):
                continue  # another pump took this slot
            if schedule.tenant.status != "active":
                continue
            prefix = slot_key(schedule.node_id, slot).rsplit("-", 1)[0] + "-"
            if schedule.overlap == "skip" and active_with_key_prefix(workflow_id=schedule.workflow_id, prefix=prefix):
                continue
            instance_create(tenant=schedule.tenant, workflow=schedule.workflow, version=schedule.version,
                            id=slot_key(schedule.node_id, slot),
                            params={"scheduledAt": slot.astimezone(ZoneInfo(schedule.timezone)).isoformat()})
            fired += 1
    return fired
