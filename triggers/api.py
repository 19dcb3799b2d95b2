"""API: the operations that start instances: create and batch-create on a workflow's published
version, the editor's Run of the saved draft, the bulk restart of failed instances onto a newer
version, and the approval of a waiting approval node. Thin: services and selectors do the work."""
import json
from typing import Any

from ninja import Router, Schema, Status

from builder.selectors import version_get, workflow_get
from engine import services as engine_services
from engine.api import InstanceOut, out, out_many
from tenants.idempotency import idempotent

from . import services
from .approvals import approval_decide_for
from .test_deliveries import listen_start, listen_state

router = Router(tags=["instances"])


class InstanceIn(Schema):
    id: str | None = None
    params: Any = None


class BatchIn(Schema):
    instances: list[InstanceIn]


class RestartFailedIn(Schema):
    version: int | None = None


class DraftRunIn(Schema):
    params: Any = None
    # A webhook trigger's test delivery ({method, headers, query, body}); else `params` is its body.
    delivery: dict | None = None
    # A partial run: outputs given for nodes (as an earlier run's, of the nodes upstream of the one
    # tested), used instead of running them; and the node after which the instance ends.
    seeds: dict | None = None
    stop_after: str | None = None


class DraftRunOut(Schema):
    id: str
    version: int


class ApprovalIn(Schema):
    decision: str
    comment: str = ""


class ApprovalOut(Schema):
    instance: str
    step: str
    decision: str


@router.post("/workflows/{workflow_id}/instances", response={201: InstanceOut})
def instances_create(request, workflow_id: int, payload: InstanceIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)

    def run():
        inst = engine_services.instance_create(tenant=request.auth.tenant, workflow=wf, id=payload.id, params=payload.params)
        return 201, json.loads(json.dumps(out(inst), default=str))

    return Status(*idempotent(request, request.auth.tenant, run))


@router.post("/workflows/{workflow_id}/instances/batch", response={201: list[InstanceOut]})
def instances_batch(request, workflow_id: int, payload: BatchIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)

    def run():
        created = engine_services.instance_create_batch(tenant=request.auth.tenant, workflow=wf,
                                                 items=[i.model_dump() for i in payload.instances])
        return 201, json.loads(json.dumps(out_many(created), default=str))

    return Status(*idempotent(request, request.auth.tenant, run))


@router.post("/workflows/{workflow_id}/instances/restart-failed", response=list[InstanceOut])
def instances_restart_failed_api(request, workflow_id: int, payload: RestartFailedIn):
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    version = version_get(tenant=request.auth.tenant, workflow=wf, number=payload.version) if payload.version else None
    return out_many(services.instances_restart_failed(tenant=request.auth.tenant, workflow=wf, version=version))


@router.post("/workflows/{workflow_id}/draft/instances", response={201: DraftRunOut}, tags=["workflows"])
def draft_run(request, workflow_id: int, payload: DraftRunIn):
    """The editor's Run: an instance of the saved draft, on an unpublished version (see the service)."""
    request.auth.require("editor")
    wf = workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    inst = services.draft_instance_create(tenant=request.auth.tenant, workflow=wf, params=payload.params,
                                          author=request.auth.user, delivery=payload.delivery,
                                          seeds=payload.seeds, stop_after=payload.stop_after)
    return Status(201, {"id": str(inst.pk), "version": inst.version.number})


@router.post("/instances/{instance_id}/approvals/{step}", response=ApprovalOut, tags=["instances"])
def instances_approve(request, instance_id: str, step: str, payload: ApprovalIn):
    """Approve or reject an approval node that is waiting (the same event as its signed link)."""
    request.auth.require("editor")
    by = request.auth.user.get_username() if request.auth.user is not None else f"key:{request.auth.api_key.prefix}"
    return approval_decide_for(tenant=request.auth.tenant, instance_id=instance_id, step=step,
                               decision=payload.decision, by=by, comment=payload.comment)


class TestDeliveryOut(Schema):
    state: str  # idle, listening or captured
    url: str  # the test URL (path), POST a delivery there
    delivery: dict | None  # {method, headers, query, body} once captured


@router.post("/workflows/{workflow_id}/test-delivery", response=TestDeliveryOut)
def test_delivery_listen(request, workflow_id: int):
    """Listen for the next delivery to the workflow's test URL (checked with the draft's webhook trigger)."""
    request.auth.require("editor")
    return listen_start(workflow=workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id))


@router.get("/workflows/{workflow_id}/test-delivery", response=TestDeliveryOut)
def test_delivery_get(request, workflow_id: int):
    return listen_state(workflow=workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id))
