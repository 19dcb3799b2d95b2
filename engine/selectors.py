"""Reads on instances. Every read is scoped by tenant: another tenant's id is NotFound."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils.dateparse import parse_datetime

from tenants.models import Tenant

from .errors import InvalidInput, NotFound
from .models import Attempt, Event, Instance, ProgressEvent, StepRecord


def instances_for(*, tenant: Tenant) -> QuerySet[Instance]:
    return Instance.objects.filter(tenant=tenant)


def instance_get(*, tenant: Tenant, instance_id: Any) -> Instance:
    try:
        uuid.UUID(str(instance_id))
    except ValueError:
        raise NotFound("instance", "no such instance") from None
    instance = instances_for(tenant=tenant).filter(pk=instance_id).first()
    if instance is None:
        raise NotFound("instance", "no such instance")
    return instance


def instances_reread(*, instances: list[Instance]) -> list[Instance]:
    """The same instances (already scoped) read again in one query, with their versions, in order:
    their status may have moved since they were loaded."""
    rows = Instance.objects.select_related("version").in_bulk([i.pk for i in instances])
    return [rows[i.pk] for i in instances]


def instance_get_by_key(*, tenant: Tenant, workflow_id: int, key: str) -> Instance:
    instance = instances_for(tenant=tenant).filter(workflow_id=workflow_id, key=key).first()
    if instance is None:
        raise NotFound("instance", "no such instance")
    return instance


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        created, pk = base64.urlsafe_b64decode(value.encode()).decode().split("|")
        uuid.UUID(pk)
        at = parse_datetime(created)
    except Exception:
        at = None
    if at is None:
        raise InvalidInput("cursor", "not a cursor from a previous page")
    return at, pk


def _in_utc(value: datetime) -> datetime | str:
    """A filter bound in UTC (naive means UTC), or "below"/"above" when UTC cannot represent it
    (0001-01-01T00:00:00+01:00 is in year 0): such a bound is before or after every instance."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt_timezone.utc)
    try:
        return value.astimezone(dt_timezone.utc)
    except OverflowError:
        return "below" if value.year == datetime.min.year else "above"


def instances_page(*, tenant: Tenant, workflow: int | None = None, status: str | None = None,
                   created_after: datetime | None = None, created_before: datetime | None = None,
                   version: int | None = None, cursor: str | None = None,
                   limit: int = 50) -> tuple[list[Instance], str | None]:
    """One page of the tenant's instances, newest first, and the cursor of the next page (None on
    the last). The cursor is (created_at, id) of the page's last row: rows created meanwhile never
    shift a page, unlike an offset."""
    if not 1 <= limit <= 200:
        raise InvalidInput("limit", "limit is 1 to 200")
    if status and status not in Instance.Status.values:
        raise InvalidInput("status", f"status is one of {', '.join(Instance.Status.values)}")
    for field, value in (("workflow", workflow), ("version", version)):
        if value is not None and not 0 <= value < 2**63:  # past the databases' integers: never a match
            raise InvalidInput(field, f"{field} is not an id")
    rows = instances_for(tenant=tenant).select_related("version").order_by("-created_at", "-pk")
    if workflow:
        rows = rows.filter(workflow_id=workflow)
    if status:
        rows = rows.filter(status=status)
    if version:
        rows = rows.filter(version__number=version)
    if created_after:
        after = _in_utc(created_after)
        rows = rows.none() if after == "above" else rows if after == "below" else rows.filter(created_at__gte=after)
    if created_before:
        before = _in_utc(created_before)
        rows = rows.none() if before == "below" else rows if before == "above" else rows.filter(created_at__lt=before)
    position = _cursor(cursor)
    if position:
        rows = rows.filter(Q(created_at__lt=position[0]) | Q(created_at=position[0], pk__lt=position[1]))
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (base64.urlsafe_b64encode(f"{page[-1].created_at.isoformat()}|{page[-1].pk}".encode()).decode()
                   if more else None)
    return page, next_cursor


def instance_of_workflow(*, tenant: Tenant, workflow_id: int, instance_id: Any) -> Instance:
    """The tenant's instance `instance_id` if it is an instance of that workflow, else NotFound."""
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    if instance.workflow_id != workflow_id:
        raise NotFound("instance", "no such instance")
    return instance


def instance_for_signed_id(instance_id: Any) -> Instance | None:
    """An instance of any tenant, with its tenant: only for an id the host signed itself (an
    approval link), which is what proves the tenant. Everything else goes through instance_get."""
    try:
        uuid.UUID(str(instance_id))
    except ValueError:
        return None
    return Instance.objects.select_related("tenant").filter(pk=instance_id).first()


def instance_finished(*, instance_id: Any) -> bool:
    return Instance.objects.filter(pk=instance_id, status__in=Instance.FINISHED).exists()


def active_with_key_prefix(*, workflow_id: int, prefix: str) -> bool:
    """Whether an active instance of the workflow has a key starting with `prefix`."""
    return Instance.objects.filter(workflow_id=workflow_id, key__startswith=prefix, status__in=Instance.ACTIVE).exists()


def completed_output(*, instance: Instance, names: list[str]) -> str | None:
    """The output (JSON text) of the first completed step among `names`, or None."""
    return (StepRecord.objects.filter(instance=instance, name__in=names, status=StepRecord.Status.COMPLETE, rollback=False)
            .values_list("output", flat=True).first())


def waits_for_event(*, instance: Instance, step: str, type: str, occurrence: int | None = None) -> bool:
    """Whether step `step` (that occurrence, when given) is waiting now (a waitForEvent) for an
    event of `type`."""
    waiting = StepRecord.objects.filter(instance=instance, name=step, kind=StepRecord.Kind.WAIT,
                                        status=StepRecord.Status.WAITING)
    if occurrence is not None:
        waiting = waiting.filter(occurrence=occurrence)
    return any((c or {}).get("type") == type for c in waiting.values_list("config", flat=True))


def wait_status(*, instance: Instance, step: str, occurrence: int) -> str | None:
    """The status of that occurrence of a wait step, None while the program has not reached it."""
    return (StepRecord.objects.filter(instance=instance, name=step, occurrence=occurrence, kind=StepRecord.Kind.WAIT)
            .values_list("status", flat=True).first())


def event_pending(*, instance: Instance, type: str) -> bool:
    """Whether an event of `type` sits in the instance's inbox, not yet taken by a wait."""
    return Event.objects.filter(instance=instance, type=type, consumed_by__isnull=True).exists()


def failed_step(*, instance: Instance) -> str | None:
    """Where "restart from the failed step" starts: the first errored step record of the instance
    (None when no step failed: the program itself threw, and a restart starts from the beginning)."""
    return (StepRecord.objects.filter(instance=instance, status=StepRecord.Status.ERRORED, rollback=False)
            .order_by("pk").values_list("name", flat=True).first())


def step_names(*, instance: Instance) -> list[str]:
    """The names of the instance's step records in the order the steps began."""
    return list(StepRecord.objects.filter(instance=instance, rollback=False).order_by("pk").values_list("name", flat=True))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def stored_json(text: str | None) -> Any:
    """A stored output (JSON text) as a value. The engine stores only JSON it checked, but a row
    written before that check, or by hand, must not make a read fail: such text reads as None."""
    if text is None:
        return None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None


_json = stored_json


def instance_status(*, tenant: Tenant, instance_id: Any) -> dict:
    """The instance's status, output or error, and its step history in the order steps began."""
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    steps = (
        StepRecord.objects.filter(instance=instance)
        .order_by("pk")
        .prefetch_related(Prefetch("attempt_rows", queryset=Attempt.objects.order_by("number")))
    )
    return {
        "id": str(instance.pk),
        "key": instance.public_key,
        "workflow": instance.workflow_id,
        "version": instance.version_id,  # the version's row id (kept for existing clients)
        "version_number": instance.version.number,  # what the live view shows
        "status": instance.status,
        "params": instance.params,
        "output": _json(instance.output),
        "error": instance.error,
        "created_at": instance.created_at,
        "started_at": instance.started_at,
        "finished_at": instance.finished_at,
        "test": instance.test,
        "stop_after": instance.stop_after,
        "wake_at": instance.due_at if instance.status == Instance.Status.WAITING else None,
        "rollback": rollback_status(instance=instance, steps=steps),
        "steps": [
            {
                "name": s.name,
                "occurrence": s.occurrence,
                "kind": s.kind,
                "status": s.status,
                "attempts": s.attempts,
                "output": _json(s.output),
                "error": s.error,
                "wake_at": s.wake_at,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
                "rollback": s.rollback,  # this row is the rollback of step (name, occurrence)
                "attempt_history": [
                    {"number": a.number, "status": a.status, "error": a.error,
                     "started_at": a.started_at, "finished_at": a.finished_at}
                    for a in s.attempt_rows.all()
                ],
            }
            for s in steps
        ],
    }


def rollback_status(*, instance: Instance, steps) -> dict | None:
    """The instance's rollback phase, when it began: why, the error handlers receive, whether it
    is over, and each step's rollback in the order they ran (latest-started step first)."""
    if instance.rollback is None:
        return None
    rows = [s for s in steps if s.rollback]
    counts = {status: sum(1 for s in rows if s.status == status) for status in ("complete", "errored")}
    return {**instance.rollback, "finished": instance.status in Instance.FINISHED,
            "completed": counts["complete"], "failed": counts["errored"],
            "steps": [{"name": s.name, "occurrence": s.occurrence, "status": s.status, "attempts": s.attempts,
                       "error": s.error} for s in rows]}


def progress_after(*, tenant: Tenant, instance_id: Any, after: int = 0, limit: int = 1000) -> list[dict]:
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    from . import progress

    events: list[dict] = []
    while len(events) < limit:  # rows hold up to progress.PACK events each
        rows = list(ProgressEvent.objects.filter(instance=instance, event_id__gt=after).order_by("event_id")
                    .values("event_id", "count", "created_at", "events")[:max(1, (limit - len(events)) // 4)])
        if not rows:
            break
        events += progress.events_of(rows, after=after)
        after = rows[-1]["event_id"]
    return events[:limit]
