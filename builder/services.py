"""Writes on workflows, versions and schedules. Tenant-scoped: rows are found through selectors."""
from __future__ import annotations

import hashlib
import re

from django.db import IntegrityError, transaction
from django.db.models import Max

from engine.sandbox.check import program_problem
from tenants.errors import Conflict, InvalidInput
from tenants.models import Tenant

from . import schedules
from .compiler import compile_graph
from .errors import GraphInvalid, ProgramInvalid
from .models import Workflow, WorkflowVersion
from .validation import validate

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_name(name) -> None:
    # PostgreSQL refuses a longer value (SQLite would keep it): say so before the insert.
    if not isinstance(name, str) or len(name) > 200:
        raise InvalidInput("name", "a workflow name is at most 200 characters")


def slug_from_name(name: str) -> str:
    """The slug a workflow named `name` gets when none is given: "First Flow" -> "first-flow"."""
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:63].rstrip("-")


def workflow_create(*, tenant: Tenant, slug: str = "", name: str = "", draft: dict | None = None) -> Workflow:
    # A name alone is enough (the editor asks for a name): its slug is derived from it.
    if not slug and isinstance(name, str) and name.strip():
        slug = slug_from_name(name)
        if not slug:
            raise InvalidInput("name", "a name needs at least one letter or digit to make its slug from")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise InvalidInput("slug", "a slug is 1-63 lowercase letters, digits and '-', starting with a letter or digit")
    _check_name(name)
    try:
        with transaction.atomic():
            return Workflow.objects.create(tenant=tenant, slug=slug, name=(name or "").strip() or slug, draft=draft)
    except IntegrityError:
        raise Conflict("slug", f"a workflow named {slug} exists already") from None


def workflow_update_draft(*, workflow: Workflow, draft: dict | None = None, name: str | None = None) -> Workflow:
    fields = ["updated_at"]
    if draft is not None:
        workflow.draft = draft
        fields.append("draft")
    if name is not None:
        _check_name(name)
        workflow.name = name
        fields.append("name")
    workflow.save(update_fields=fields)
    return workflow


def workflow_archive(*, workflow: Workflow) -> Workflow:
    with transaction.atomic():
        workflow.archived = True
        workflow.save(update_fields=["archived", "updated_at"])
        schedules.schedules_sync(workflow=workflow, version=None)
    return workflow


@transaction.atomic
def version_create_from_code(
    *, workflow: Workflow, program: str, graph: dict | None = None, publish: bool = True, author=None,
) -> WorkflowVersion:
    """Add an immutable version holding `program`; new instances use the published version."""
    if not isinstance(program, str) or not program.strip():
        raise InvalidInput("program", "a program is an ES module with `export default async function run(event, step)`")
    problem = program_problem(program)  # before anything is written: a refused program changes nothing
    if problem is not None:
        raise ProgramInvalid(problem.message, problem.line, problem.column)
    # Lock the workflow row so two concurrent saves cannot take the same number.
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    version = WorkflowVersion.objects.create(
        tenant_id=workflow.tenant_id, workflow=workflow, number=last + 1, graph=graph, program=program,
        program_hash=hashlib.sha256(program.encode()).hexdigest(), author=author,
    )
    if publish:
        version_publish(version=version)
    return version


def version_create_from_graph(*, workflow: Workflow, graph: dict, publish: bool = False, author=None) -> WorkflowVersion:
    """Validate and compile a graph into a new version (GraphInvalid lists every problem)."""
    parsed, problems = validate(graph)
    if problems:
        raise GraphInvalid(problems)
    return version_create_from_code(workflow=workflow, program=compile_graph(parsed), graph=graph,
                                    publish=publish, author=author)


@transaction.atomic
def version_publish(*, version: WorkflowVersion) -> WorkflowVersion:
    workflow = Workflow.objects.select_for_update().get(pk=version.workflow_id)
    workflow.published_version = version
    workflow.save(update_fields=["published_version", "updated_at"])
    schedules.schedules_sync(workflow=workflow, version=version)
    return version


def instances_restart_failed(*, tenant: Tenant, workflow: Workflow, version: WorkflowVersion | None = None,
                             limit: int = 1000) -> list:
    """Restart the workflow's errored instances on `version` (default: the published one), each from
    its failed step, or from the first step whose checkpoint the new version invalidates if earlier."""
    from engine.models import Instance, StepRecord
    from engine.services import instance_restart

    from .selectors import version_diff

    version = version or workflow.published_version
    if version is None or version.workflow_id != workflow.pk:
        raise InvalidInput("version", "no version of this workflow to restart on")
    restarted = []
    failed = Instance.objects.filter(tenant=tenant, workflow=workflow, status=Instance.Status.ERRORED)
    diffs: dict[int, set[str]] = {}  # per old version: its diff is the same for all its instances
    for instance in failed.select_related("version")[:limit]:
        valid = None
        if instance.version_id != version.pk:
            if instance.version_id not in diffs:
                diffs[instance.version_id] = set(version_diff(old=instance.version, new=version)["valid_checkpoints"])
            valid = diffs[instance.version_id]
        steps = list(StepRecord.objects.filter(instance=instance).order_by("pk").values_list("name", "status"))
        start = next((name for name, status in steps if status == "errored"), None)
        if valid is not None:
            start = next((name for name, _ in steps if name.split("[")[0] not in valid or name == start), None)
        restarted.append(instance_restart(tenant=tenant, instance_id=instance.pk, from_step=start, version=version))
    return restarted


def draft_version(*, workflow: Workflow, author=None) -> WorkflowVersion:
    """The saved draft as a version (the editor's Save, and Run): compiled into a new unpublished
    version, or the newest version when it already holds the same graph and program, so saving or
    test-running an unchanged draft does not pile up versions. GraphInvalid lists every problem."""
    graph = workflow.draft or {"nodes": [], "edges": []}
    parsed, problems = validate(graph)
    if problems:
        raise GraphInvalid(problems)
    program = compile_graph(parsed)
    latest = workflow.versions.order_by("-number").first()
    if latest is not None and latest.program == program and latest.graph == graph:
        return latest
    return version_create_from_code(workflow=workflow, program=program, graph=graph, publish=False, author=author)


def draft_instance_create(*, tenant: Tenant, workflow: Workflow, params: object = None, author=None,
                          delivery: dict | None = None):
    """Start an instance of the workflow's saved draft without publishing it (the editor's Run), on
    `draft_version`. The published version, which webhooks, schedules and the API start, is left
    as it is.

    A webhook trigger's instance gets what a real delivery gives, `{method, headers, query, body}`,
    with `params` as the body (or `delivery` as captured, for a listened-for test delivery), so code
    written as `input.body.amount` behaves the same in a test run and in production."""
    from engine.services import instance_create

    version = draft_version(workflow=workflow, author=author)
    if any(n.get("type") == "webhook" for n in (version.graph or {}).get("nodes", [])):
        params = test_delivery(params, delivery)
    return instance_create(tenant=tenant, workflow=workflow, params=params, version=version)


def test_delivery(body: object, delivery: dict | None = None) -> dict:
    """A webhook trigger's test payload in a real delivery's shape (builder.webhooks.payload_of)."""
    d = delivery or {}
    headers = d.get("headers") if isinstance(d.get("headers"), dict) else {"content-type": "application/json"}
    return {"method": str(d.get("method") or "POST"), "headers": {str(k).lower(): str(v) for k, v in headers.items()},
            "query": d.get("query") if isinstance(d.get("query"), dict) else {},
            "body": d["body"] if "body" in d else body}
