"""API: workflows, versions (graph or code-first), validation, publish, program source, diff, catalog."""
import json
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Router, Schema, Status

from tenants.audit import audit_from_request
from tenants.errors import InvalidInput
from tenants.idempotency import idempotent

from engine.sandbox import program_problem

from . import selectors, services
from .expressions import PREVIEW_CONTEXT_BYTES, preview
from .nodes import catalog
from .validation import validate

router = Router(tags=["workflows"])
MAX_PROGRAM_CHARS = 1_000_000


class WorkflowIn(Schema):
    slug: str = ""  # derived from the name when empty
    name: str = ""
    draft: dict | None = None


class Concurrency(Schema):
    limit: int  # 1 to 10,000 instances of this workflow advanced at once; more stay queued


class WorkflowPatch(Schema):
    name: str | None = None
    draft: dict | None = None
    # Workflow settings: `{"limit": n}`, or null for none of its own (the tenant's plan still caps).
    concurrency: Concurrency | None = None


class WorkflowOut(Schema):
    # Resolvers take a model row, or the dict of an answer replayed for an Idempotency-Key.
    id: int
    slug: str
    name: str
    draft: dict | None
    # Pinned test data: node id -> output, used instead of running the node in test runs.
    pins: dict = {}
    published_version: int | None
    archived: bool
    concurrency: Concurrency | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_concurrency(obj):
        if isinstance(obj, dict):
            return obj.get("concurrency")
        return {"limit": obj.concurrency_limit} if obj.concurrency_limit is not None else None

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
    # What other code may know of the type's behaviour (builder.nodes.base.NodeSpec), never its name.
    merges: bool = False
    body_handle: str | None = None
    passes_input: bool = False
    handle_from_output: str | None = None
    # Which step record a test run seeds for it (pinned or earlier data), or None: it always runs.
    seed_kind: str | None = None


class VersionDiffOut(Schema):
    added: list[str]
    removed: list[str]
    changed: list[str]
    valid_checkpoints: list[str]


class CheckFiguresOut(Schema):
    total: int
    continues: int
    diverges: int
    fails: int
    diverges_at: dict[str, int]  # step name -> instances that diverge there


class InstanceCheckOut(Schema):
    id: str
    key: str
    status: str
    version: int
    verdict: str  # continues | diverges | fails
    checkpoints: int  # recorded steps replayed (for an errored instance: those a restart keeps)
    step: str | None = None  # where it diverges: the first recorded step the new program does not reach
    expected: str | None = None
    got: str | None = None  # the step the new program takes instead (null: it ends or blocks first)
    error: dict | None = None


class VersionCheckOut(Schema):
    version: int
    published: int | None
    checked: int
    truncated: bool  # more instances than were replayed (the oldest 500 are)
    in_flight: CheckFiguresOut  # queued, running, waiting (sleeping, for an event or a retry), paused
    restartable: CheckFiguresOut  # errored: what "restart from the failed step" on this version would keep
    versions: list[int]  # the versions the checked instances are on
    summary: str
    instances: list[InstanceCheckOut]


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


class ProgramIn(Schema):
    program: str


class ProgramProblemOut(Schema):
    message: str
    line: int | None
    column: int | None


@router.post("/validate-program", response=list[ProgramProblemOut])
def program_validate(request, payload: ProgramIn):
    """Whether a code-first program compiles and its imports resolve (QuickJS, never run): [] or the problem."""
    if len(payload.program) > MAX_PROGRAM_CHARS:
        raise InvalidInput("program", f"a program is at most {MAX_PROGRAM_CHARS} characters")
    problem = program_problem(payload.program)
    return [] if problem is None else [{"message": problem.message, "line": problem.line, "column": problem.column}]


@router.post("/validate", response=list[Problem])
def graph_validate(request, payload: GraphIn):
    return validate(payload.graph)[1]


@router.get("/workflows", response=list[WorkflowOut])
def workflows_list(request, archived: bool = False, search: str = ""):
    return selectors.workflows_list(tenant=request.auth.tenant, archived=archived, search=search)


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
    with transaction.atomic():  # all of the patch or none of it
        if "concurrency" in payload.model_fields_set:
            services.workflow_set_concurrency(workflow=wf, limit=payload.concurrency.limit if payload.concurrency else None)
        return services.workflow_update_draft(workflow=wf, draft=payload.draft, name=payload.name)


@router.delete("/workflows/{workflow_id}", response=WorkflowOut)
def workflows_archive(request, workflow_id: int):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.workflow_archive(workflow=wf)


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
    return selectors.versions_list(workflow=wf)


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


@router.post("/workflows/{workflow_id}/versions/{number}/check", response=VersionCheckOut)
def versions_check(request, workflow_id: int, number: int):
    """Safe deploy: replay the histories of the workflow's in-flight and errored instances against
    this version's program (nothing runs, nothing is written) and say, per instance, whether it
    would continue or where it would diverge."""
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    v = selectors.version_get(tenant=request.auth.tenant, workflow=wf, number=number)
    report = selectors.version_check(tenant=request.auth.tenant, workflow=wf, version=v)
    return {**report, "summary": selectors.check_summary(report)}


class PinIn(Schema):
    output: Any = None


@router.put("/workflows/{workflow_id}/pins/{node_id}", response=WorkflowOut)
def workflows_pin(request, workflow_id: int, node_id: str, payload: PinIn):
    """Pin a node's output as test data (test runs use it instead of running the node)."""
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.workflow_pin(tenant=request.auth.tenant, workflow=wf, node_id=node_id, output=payload.output)


@router.delete("/workflows/{workflow_id}/pins/{node_id}", response=WorkflowOut)
def workflows_unpin(request, workflow_id: int, node_id: str):
    request.auth.require("editor")
    wf = selectors.workflow_get(tenant=request.auth.tenant, workflow_id=workflow_id)
    return services.workflow_unpin(workflow=wf, node_id=node_id)
