"""API: instances (list, status with history, pause, resume, terminate, restart), events, progress.
Creating instances is the triggers app's (triggers.api), as it starts from a workflow's versions.
Thin: services and selectors do the work."""
import json
from datetime import datetime
from typing import Any

from ninja import Field, Router, Schema, Status

from tenants.errors import InvalidInput

from . import selectors, services
from .models import Instance

router = Router(tags=["instances"])


class InstanceOut(Schema):
    id: str
    key: str
    workflow: int
    version: int
    status: str
    params: Any = None
    output: Any = None
    # {name, message, stack?, frames?}: frames place each stack frame in the tenant's source, translated
    # by the host (engine.sourcemap): {line, column} of a code-first program, or {node, field, line,
    # column} of a drawn workflow (glue code: {} or {node}); the same shape on each step of the status.
    error: Any = Field(None, description="{name, message, stack?, frames?}; frames: [{function?, line?, column?, node?, field?}] "
                       "in the tenant's source (code-first: line/column of the program; drawn: node, field, line within it)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # A test instance (the editor's test runs, engine.seeding), and the step it stops after ("" for none).
    test: bool = False
    stop_after: str = ""

    @staticmethod
    def resolve_id(obj):
        if isinstance(obj, dict):
            return obj["id"]
        return str(obj.pk)

    @staticmethod
    def resolve_key(obj):
        if isinstance(obj, dict):
            return obj["key"]
        return obj.public_key

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


class TerminateIn(Schema):
    rollback: bool = Field(False, description="Run the rollback handlers of the instance's completed steps first "
                                              "(latest-started first, each a durable step with its own retries), "
                                              "then end it terminated.")


class EventIn(Schema):
    type: str
    payload: Any = None


def out(instance: Instance) -> dict:
    return out_many([instance])[0]


def out_many(instances: list[Instance]) -> list[dict]:
    """The instances as the API shows them, re-read in one query (their status may have moved)."""
    rows = selectors.instances_reread(instances=instances)
    return [InstanceOut.from_orm(row).model_dump() for row in rows]


@router.get("/instances", response=InstancePage)
def instances_list(request, workflow: int | None = None, status: str | None = None,
                   created_after: datetime | None = None, created_before: datetime | None = None,
                   version: int | None = None, cursor: str | None = None, limit: int = 50):
    page, next_cursor = selectors.instances_page(
        tenant=request.auth.tenant, workflow=workflow, status=status, created_after=created_after,
        created_before=created_before, version=version, cursor=cursor, limit=limit)
    return {"items": [InstanceOut.from_orm(i).model_dump() for i in page], "next_cursor": next_cursor}


@router.get("/instances/{instance_id}", response=dict)
def instances_get(request, instance_id: str):
    """The instance's status, output or error, and its step history in the order steps began. Each
    step says whether it is a rollback (`rollback: true`: the undo of step `name`/`occurrence`);
    `rollback` is the rollback phase once it began: `reason` (errored | terminate), the `error` its
    handlers receive, `finished`, `completed` and `failed` counts, and each step's rollback in the
    order they ran."""
    answer = selectors.instance_status(tenant=request.auth.tenant, instance_id=instance_id)
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
def instances_terminate(request, instance_id: str, payload: TerminateIn | None = None):
    """Stop the instance for good. With `{"rollback": true}` its rollback phase begins: the rollback
    handlers of its completed steps run first (a running instance stops at its next commit), then
    it ends terminated. The body is optional."""
    request.auth.require("editor")
    return out(services.instance_terminate(tenant=request.auth.tenant, instance_id=instance_id,
                                           rollback=bool(payload and payload.rollback)))


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
