"""Reads on instances. Every read is scoped by tenant: another tenant's id is NotFound."""
from __future__ import annotations

import json
import uuid
from typing import Any

from django.db.models import Prefetch, QuerySet

from tenants.models import Tenant

from .errors import NotFound
from .models import Attempt, Instance, ProgressEvent, StepRecord


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


def instance_get_by_key(*, tenant: Tenant, workflow_id: int, key: str) -> Instance:
    instance = instances_for(tenant=tenant).filter(workflow_id=workflow_id, key=key).first()
    if instance is None:
        raise NotFound("instance", "no such instance")
    return instance


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
        "key": instance.key,
        "workflow": instance.workflow_id,
        "version": instance.version_id,
        "status": instance.status,
        "params": instance.params,
        "output": _json(instance.output),
        "error": instance.error,
        "created_at": instance.created_at,
        "started_at": instance.started_at,
        "finished_at": instance.finished_at,
        "wake_at": instance.due_at if instance.status == Instance.Status.WAITING else None,
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
                "attempt_history": [
                    {"number": a.number, "status": a.status, "error": a.error,
                     "started_at": a.started_at, "finished_at": a.finished_at}
                    for a in s.attempt_rows.all()
                ],
            }
            for s in steps
        ],
    }


def progress_after(*, tenant: Tenant, instance_id: Any, after: int = 0, limit: int = 1000) -> list[dict]:
    instance = instance_get(tenant=tenant, instance_id=instance_id)
    rows = ProgressEvent.objects.filter(instance=instance, event_id__gt=after).order_by("event_id")[:limit]
    return [
        {"eventId": e.event_id, "type": e.type, "timestamp": e.created_at.isoformat(), "step": e.step,
         "attempt": e.attempt, **(e.data or {})}
        for e in rows
    ]
