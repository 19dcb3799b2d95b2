"""Writes on workflows and versions. Tenant-scoped: rows are found through selectors.

Invariants:
- A WorkflowVersion is never changed once made; a workflow's draft is only a draft.
- Whenever a workflow's published version changes (publish, archive) the functions named in
  settings.WORKFLOW_PUBLISH_HOOKS are called in the same transaction with (workflow, version):
  the layer above (triggers.schedules) keeps its rows in step without builder importing it.
"""
from __future__ import annotations

import hashlib
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.module_loading import import_string

from engine.sandbox import program_problem
from engine.seeding import seeds_check
from engine.sourcemap import MARKER as MAP_MARKER
from tenants.errors import Conflict, InvalidInput
from tenants.models import Tenant

from .compiler import compile_graph
from .errors import GraphInvalid, ProgramInvalid
from .graph import parse
from .models import Workflow, WorkflowVersion
from .structure import seed_kinds
from .validation import validate

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _published(*, workflow: Workflow, version: WorkflowVersion | None) -> None:
    for path in settings.WORKFLOW_PUBLISH_HOOKS:
        import_string(path)(workflow=workflow, version=version)


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


MAX_CONCURRENCY_LIMIT = 10_000


def workflow_set_concurrency(*, workflow: Workflow, limit: int | None) -> Workflow:
    """The workflow's concurrency limit (None: none of its own). Instances over it stay queued."""
    if limit is not None and (type(limit) is not int or not 1 <= limit <= MAX_CONCURRENCY_LIMIT):
        raise InvalidInput("concurrency.limit", f"the limit must be an integer from 1 to {MAX_CONCURRENCY_LIMIT}")
    workflow.concurrency_limit = limit
    workflow.save(update_fields=["concurrency_limit", "updated_at"])
    return workflow


def workflow_archive(*, workflow: Workflow) -> Workflow:
    with transaction.atomic():
        workflow.archived = True
        workflow.save(update_fields=["archived", "updated_at"])
        _published(workflow=workflow, version=None)
    return workflow


@transaction.atomic
def version_create_from_code(
    *, workflow: Workflow, program: str, graph: dict | None = None, publish: bool = True, author=None,
) -> WorkflowVersion:
    """Add an immutable version holding `program`; new instances use the published version."""
    if not isinstance(program, str) or not program.strip():
        raise InvalidInput("program", "a program is an ES module with `export default async function run(event, step)`")
    if graph is None and "\n" + MAP_MARKER in program:
        raise InvalidInput("program", "a code-first program cannot carry a compiled workflow's node map")
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
    _published(workflow=workflow, version=version)
    return version


def code_first_program(draft) -> str | None:
    """The program of a code-first draft (`{"program": "..."}`, the code-first editor's), else None."""
    if isinstance(draft, dict) and isinstance(draft.get("program"), str) and "nodes" not in draft:
        return draft["program"]
    return None


def draft_version(*, workflow: Workflow, author=None) -> WorkflowVersion:
    """The saved draft as a version (the editor's Save, and Run): compiled into a new unpublished
    version, or the newest version when it already holds the same graph and program, so saving or
    test-running an unchanged draft does not pile up versions. GraphInvalid lists every problem; a
    code-first draft's program that does not compile is ProgramInvalid (line and column)."""
    program = code_first_program(workflow.draft)
    if program is not None:
        # A code-first draft ({"program": ...}): the program as written is the version's.
        latest = workflow.versions.order_by("-number").first()
        if latest is not None and latest.program == program and latest.graph is None:
            return latest
        return version_create_from_code(workflow=workflow, program=program, publish=False, author=author)
    graph = workflow.draft or {"nodes": [], "edges": []}
    parsed, problems = validate(graph)
    if problems:
        raise GraphInvalid(problems)
    program = compile_graph(parsed)
    latest = workflow.versions.order_by("-number").first()
    if latest is not None and latest.program == program and latest.graph == graph:
        return latest
    return version_create_from_code(workflow=workflow, program=program, graph=graph, publish=False, author=author)


def workflow_pin(*, tenant: Tenant, workflow: Workflow, node_id: str, output) -> Workflow:
    """Pin `output` as a node's test data: test runs of the draft record it as the node's result
    instead of running the node. Checked like a step result (engine.seeding.seeds_check), and the
    node must be a step of the draft that can be seeded."""
    if node_id not in seed_kinds(parse(workflow.draft or {})):
        raise InvalidInput("node_id", f"{node_id!r} is not a step of the draft whose output can be pinned")
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        pins = {**(workflow.pins or {}), node_id: output}
        seeds_check(tenant=tenant, seeds=pins, field="pins")
        workflow.pins = pins
        workflow.save(update_fields=["pins", "updated_at"])
    return workflow


def workflow_unpin(*, workflow: Workflow, node_id: str) -> Workflow:
    with transaction.atomic():
        workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
        pins = dict(workflow.pins or {})
        if pins.pop(node_id, None) is None and node_id not in (workflow.pins or {}):
            raise InvalidInput("node_id", f"{node_id!r} has no pinned data")
        workflow.pins = pins
        workflow.save(update_fields=["pins", "updated_at"])
    return workflow
