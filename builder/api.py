"""API: workflows, versions (graph or code-first), validation, publish, program source, diff, catalog."""
import json
from datetime import datetime
from typing import Any

from django.http import HttpResponse
from ninja import Field, Router, Schema, Status

from tenants.audit import audit_from_request
from tenants.errors import InvalidInput
from tenants.idempotency import idempotent

from . import selectors, services
from .approvals import approval_decide_for
from .expressions import PREVIEW_CONTEXT_BYTES, preview
from .nodes import catalog
from .test_deliveries import listen_start, listen_state
from .validation import validate

router = Router(tags=["workflows"])


class WorkflowIn(Schema):
    slug: str = ""  # derived from the name when empty
    name: str = ""
    draft: dict | None = None


class WorkflowPatch(Schema):
    name: str | None = None
    draft: dict | None = None


class WorkflowOut(Schema):
    # Resolvers take a model row, or the dict of an answer replayed for an Idempotency-Key.
    id: int
    slug: str
    name: str
    draft: dict | None
    published_version: int | None
    archived: bool
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_published_version(obj):
        if isinstance(obj, dict):
            return obj.get("published_version")
        return obj.published_version.number if obj.published_version_id else None


class VersionIn(Schema):
    graph: dict | None = None
    program: str | None = None
    publish: bool = False


class VersionOut(Schema):
    number: int
    program_hash: str
    graph: dict | None
    author: str | None
    created_at: datetime
    published: bool

    @staticmethod
    def resolve_author(obj):
        if isinstance(obj, dict):
            return obj.get("author")
        return obj.author.get_username() if obj.author_id else None

    @staticmethod
    def resolve_published(obj):
        if isinstance(obj, dict):
            return obj.get("published")
        return obj.workflow.published_version_id == obj.pk


class GraphIn(Schema):
    graph: Any


class ApprovalIn(Schema):
    decision: str
    comment: str = ""


class ApprovalOut(Schema):
    instance: str
    step: str
    decision: str


class Problem(Schema):
    node_id: str | None
    field: str | None
    code: str
    message: str


class CatalogEntryOut(Schema):
    type: str
    label: str
    group: str
    description: str
    trigger: bool
    step: bool
    schema_: dict = Field(alias="schema")  # the JSON Schema of the node's data
    handles: list[str] | None
    dynamic_handles: bool
    code_fields: list[str]


class VersionDiffOut(Schema):
    added: list[str]
    removed: list[str]
    changed: list[str]
    valid_checkpoints: list[str]


@router.get("/catalog", response=list[CatalogEntryOut], by_alias=True)
def node_catalog(request):
    return catalog()


class PreviewIn(Schema):
    value: str  # a config string with `{{ }}` expressions
    context: dict = {}  # sample data: event, steps, input (item, index)


class PreviewOut(Schema):
    ok: bool
    value: Any = None
    error: str | None = None


@router.post("/preview", response=PreviewOut)
def expression_preview(request, payload: PreviewIn):
    """An expression's value against sample data (the editor previews with its last run's data)."""
    if len(json.dumps(payload.context)) > PREVIEW_CONTEXT_BYTES:
        raise InvalidInput("context", "sample data is over 256 KB")
    return preview(payload.value, payload.context)


@router.post("/validate", response=list[Problem])
def graph_validate(request, payload: GraphIn):
    return validate(payload.graph)[1]


@router.get("/workflows", response=list[WorkflowOut])
def workflows_list(request, archived: bool = False, search: str = ""):
    rows = request.auth.tenant.workflows.select_related("published_version").filter(archived=archived).order_by("slug")
    if search:
        rows = rows.filter(name__icontains=search) | rows.filter(slug__icontains=search)
    return rows[:500]


@router.post("/workflows", response={201: WorkflowOut})
def workflows_create(request, payload: WorkflowIn):
    request.auth.require("editor")

    def run():
        wf = services.workflow_create(tenant=request.auth.tenant, slug=payload.slug, name=payload.name, draft=payload.draft)
        return 201, WorkflowOut.from_orm(wf).model_dump()

    return Status(*idempotent(request, request.auth.tenant, run))


@router.get("/workflows/{workflow_id}", response=WorkflowOut)
def workflows_get(request, workflow_id: int):
    return selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)


@router.patch("/workflows/{workflow_id}", response=WorkflowOut)
def workflows_update(request, workflow_id: int, payload: WorkflowPatch):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.workflow_update_draft(workflow=wf, draft=payload.draft, name=payload.name)


@router.delete("/workflows/{workflow_id}", response=WorkflowOut)
def workflows_archive(request, workflow_id: int):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.workflow_archive(workflow=wf)


class DraftRunIn(Schema):
    params: Any = None
    # A webhook trigger's test delivery ({method, headers, query, body}); else `params` is its body.
    delivery: dict | None = None


class DraftRunOut(Schema):
    id: str
    version: int


@router.post("/workflows/{workflow_id}/draft/instances", response={201: DraftRunOut})
def draft_run(request, workflow_id: int, payload: DraftRunIn):
    """The editor's Run: an instance of the saved draft, on an unpublished version (see the service)."""
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    inst = services.draft_instance_create(tenant=request.auth.tenant, workflow=wf, params=payload.params,
                                          author=request.auth.user, delivery=payload.delivery)
    return Status(201, {"id": str(inst.pk), "version": inst.version.number})


class TestDeliveryOut(Schema):
    state: str  # idle, listening or captured
    url: str  # the test URL (path), POST a delivery there
    delivery: dict | None  # {method, headers, query, body} once captured


@router.post("/workflows/{workflow_id}/test-delivery", response=TestDeliveryOut)
def test_delivery_listen(request, workflow_id: int):
    """Listen for the next delivery to the workflow's test URL (checked with the draft's webhook trigger)."""
    request.auth.require("editor")
    return listen_start(workflow=selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id))


@router.get("/workflows/{workflow_id}/test-delivery", response=TestDeliveryOut)
def test_delivery_get(request, workflow_id: int):
    return listen_state(workflow=selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id))


@router.post("/workflows/{workflow_id}/draft/version", response=VersionOut)
def draft_version(request, workflow_id: int):
    """The editor's Save: the saved draft as a version (a new unpublished one, or the newest when
    unchanged); 422 with every problem when the draft does not compile yet (it stays saved)."""
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.draft_version(workflow=wf, author=request.auth.user)


@router.get("/workflows/{workflow_id}/versions", response=list[VersionOut])
def versions_list(request, workflow_id: int):
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return wf.versions.select_related("author", "workflow").order_by("-number")[:200]


@router.post("/workflows/{workflow_id}/versions", response={201: VersionOut})
def versions_create(request, workflow_id: int, payload: VersionIn):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    author = request.auth.user

    def run():
        if payload.graph is not None:
            v = services.version_create_from_graph(workflow=wf, graph=payload.graph, publish=payload.publish, author=author)
        else:
            v = services.version_create_from_code(workflow=wf, program=payload.program or "", publish=payload.publish,
                                                  author=author)
        v.workflow.refresh_from_db()
        if payload.publish:
            audit_from_request(request, "version.publish", f"{wf.slug} v{v.number}")
        return 201, VersionOut.from_orm(v).model_dump()

    return Status(*idempotent(request, request.auth.tenant, run))


@router.get("/workflows/{workflow_id}/versions/{number}", response=VersionOut)
def versions_get(request, workflow_id: int, number: int):
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=number)


@router.get("/workflows/{workflow_id}/versions/{number}/program", response={200: str})
def versions_program(request, workflow_id: int, number: int):
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    v = selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=number)
    return HttpResponse(v.program, content_type="text/javascript; charset=utf-8")


@router.post("/workflows/{workflow_id}/versions/{number}/publish", response=VersionOut)
def versions_publish(request, workflow_id: int, number: int):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    v = services.version_publish(version=selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=number))
    v.workflow.refresh_from_db()
    audit_from_request(request, "version.publish", f"{wf.slug} v{v.number}")
    return v


@router.get("/workflows/{workflow_id}/versions/{number}/diff", response=VersionDiffOut)
def versions_diff(request, workflow_id: int, number: int, against: int):
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    new = selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=number)
    old = selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=against)
    return selectors.version_diff(old=old, new=new)


@router.post("/instances/{instance_id}/approvals/{step}", response=ApprovalOut, tags=["instances"])
def instances_approve(request, instance_id: str, step: str, payload: ApprovalIn):
    """Approve or reject an approval node that is waiting (the same event as its signed link)."""
    request.auth.require("editor")
    by = request.auth.user.get_username() if request.auth.user is not None else f"key:{request.auth.api_key.prefix}"
    return approval_decide_for(tenant=request.auth.tenant, instance_id=instance_id, step=step,
                               decision=payload.decision, by=by, comment=payload.comment)
