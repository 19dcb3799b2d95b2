"""API: instances (create, batch, list, status with history, pause, resume, terminate, restart,
bulk restart of failed ones), events, progress. Thin: services and selectors do the work."""
import base64
import json
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from ninja import Router, Schema, Status

from builder.models import WorkflowVersion
from builder.selectors import version_get, workflow_get
from builder.services import instances_restart_failed
from tenants.errors import InvalidInput
from tenants.idempotency import idempotent

from . import selectors, services
from .models import Instance

router = Router(tags=["instances"])


class InstanceIn(Schema):
    id: str | None = None
    params: Any = None


class BatchIn(Schema):
    instances: list[InstanceIn]


class InstanceOut(Schema):
    id: str
    key: str
    workflow: int
    version: int
    status: str
    params: Any = None
    output: Any = None
    error: Any = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_id(obj):
        if isinstance(obj, dict):
            return obj["id"]
        return str(obj.pk)

    @staticmethod
    def resolve_workflow(obj):
        if isinstance(obj, dict):
            return obj["workflow"]
        return obj.workflow_id

    @staticmethod
    def resolve_version(obj):
        if isinstance(obj, dict):
            return obj["version"]
        return obj.version.number

    @staticmethod
    def resolve_output(obj):
        if isinstance(obj, dict):
            return obj.get("output")
        return selectors.stored_json(obj.output) if obj.output else None


class InstancePage(Schema):
    items: list[InstanceOut]
    next_cursor: str | None


class RestartIn(Schema):
    from_step: str | None = None


class RestartFailedIn(Schema):
    version: int | None = None


class EventIn(Schema):
    type: str
    payload: Any = None


def out(instance: Instance) -> dict:
    return out_many([instance])[0]


def out_many(instances: list[Instance]) -> list[dict]:
    """The instances as the API shows them, re-read in one query (their status may have moved)."""
    rows = Instance.objects.select_related("version").in_bulk([i.pk for i in instances])
    return [InstanceOut.from_orm(rows[i.pk]).model_dump() for i in instances]


@router.post("/workflows/{workflow_id}/instances", response={201: InstanceOut})
def instances_create(request, workflow_id: int, payload: InstanceIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)

    def run():
        inst = services.instance_create(tenant=request.auth.tenant, workflow=wf, id=payload.id, params=payload.params)
        return 201, json.loads(json.dumps(out(inst), default=str))

    return Status(*idempotent(request, request.auth.tenant, run))


@router.post("/workflows/{workflow_id}/instances/batch", response={201: list[InstanceOut]})
def instances_batch(request, workflow_id: int, payload: BatchIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)

    def run():
        created = services.instance_create_batch(tenant=request.auth.tenant, workflow=wf,
                                                 items=[i.model_dump() for i in payload.instances])
        return 201, json.loads(json.dumps(out_many(created), default=str))

    return Status(*idempotent(request, request.auth.tenant, run))


@router.post("/workflows/{workflow_id}/instances/restart-failed", response=list[InstanceOut])
def instances_restart_failed_api(request, workflow_id: int, payload: RestartFailedIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    version = version_get(tenant=request.auth.tenant, workflow=wf, number=payload.version) if payload.version else None
    return out_many(instances_restart_failed(tenant=request.auth.tenant, workflow=wf, version=version))


def _cursor(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    try:
        created, pk = base64.urlsafe_b64decode(value.encode()).decode().split("|")
        uuid.UUID(pk)
        return created, pk
    except Exception:
        raise InvalidInput("cursor", "not a cursor from a previous page") from None


def _in_utc(value: datetime) -> datetime | str:
    """A filter bound in UTC (naive means UTC), or "below"/"above" when UTC cannot represent it
    (0001-01-01T00:00:00+01:00 is in year 0): such a bound is before or after every instance."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt_timezone.utc)
    try:
        return value.astimezone(dt_timezone.utc)
    except OverflowError:
        return "below" if value.year == datetime.min.year else "above"


@router.get("/instances", response=InstancePage)
def instances_list(request, workflow: int | None = None, status: str | None = None,
                   created_after: datetime | None = None, created_before: datetime | None = None,
                   version: int | None = None, cursor: str | None = None, limit: int = 50):
    if not 1 <= limit <= 200:
        raise InvalidInput("limit", "limit is 1 to 200")
    if status and status not in Instance.Status.values:
        raise InvalidInput("status", f"status is one of {', '.join(Instance.Status.values)}")
    for field, value in (("workflow", workflow), ("version", version)):
        if value is not None and not 0 <= value < 2**63:  # past the databases' integers: never a match
            raise InvalidInput(field, f"{field} is not an id")
    rows = selectors.instances_for(tenant=request.auth.tenant).select_related("version").order_by("-created_at", "-pk")
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
        from django.db.models import Q
        from django.utils.dateparse import parse_datetime

        at = parse_datetime(position[0])
        if at is None:
            raise InvalidInput("cursor", "not a cursor from a previous page")
        rows = rows.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=position[1]))
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (base64.urlsafe_b64encode(f"{page[-1].created_at.isoformat()}|{page[-1].pk}".encode()).decode()
                   if more else None)
    return {"items": [InstanceOut.from_orm(i).model_dump() for i in page], "next_cursor": next_cursor}


@router.get("/instances/{instance_id}", response=dict)
def instances_get(request, instance_id: str):
    answer = selectors.instance_status(tenant=request.auth.tenant, instance_id=instance_id)
    # `version` is the version's row id here (kept for existing clients); the live view needs its number.
    answer["version_number"] = WorkflowVersion.objects.filter(pk=answer["version"]).values_list("number", flat=True).first()
    return json.loads(json.dumps(answer, default=str))


@router.post("/instances/{instance_id}/pause", response=InstanceOut)
def instances_pause(request, instance_id: str):
    request.auth.require("editor")
    return out(services.instance_pause(tenant=request.auth.tenant, instance_id=instance_id))


@router.post("/instances/{instance_id}/resume", response=InstanceOut)
def instances_resume(request, instance_id: str):
    request.auth.require("editor")
    return out(services.instance_resume(tenant=request.auth.tenant, instance_id=instance_id))


@router.post("/instances/{instance_id}/terminate", response=InstanceOut)
def instances_terminate(request, instance_id: str):
    request.auth.require("editor")
    return out(services.instance_terminate(tenant=request.auth.tenant, instance_id=instance_id))


@router.post("/instances/{instance_id}/restart", response=InstanceOut)
def instances_restart(request, instance_id: str, payload: RestartIn):
    request.auth.require("editor")
    return out(services.instance_restart(tenant=request.auth.tenant, instance_id=instance_id, from_step=payload.from_step))


@router.post("/instances/{instance_id}/events", response={202: dict})
def instances_event(request, instance_id: str, payload: EventIn):
    request.auth.require("editor")
    event = services.event_send(tenant=request.auth.tenant, instance_id=instance_id, type=payload.type, payload=payload.payload)
    return Status(202, {"id": event.pk, "type": event.type})


@router.get("/instances/{instance_id}/progress", response=list[dict])
def instances_progress(request, instance_id: str, after: int = 0, limit: int = 1000):
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit", "limit is 1 to 1000")
    return selectors.progress_after(tenant=request.auth.tenant, instance_id=instance_id, after=after, limit=limit)
