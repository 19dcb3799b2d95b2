"""Reads on workflows and versions, always scoped by tenant (another tenant's id is NotFound)."""
from __future__ import annotations

from typing import Any

from engine.deploycheck import version_check as replay_check
from tenants.errors import NotFound
from tenants.models import Tenant

from .graph import parse
from .models import Workflow, WorkflowVersion


def workflow_get(*, tenant: Tenant, workflow_id: Any) -> Workflow:
    workflow = Workflow.objects.filter(tenant=tenant, pk=workflow_id).first() if str(workflow_id).isdigit() else None
    if workflow is None:
        raise NotFound("workflow", "no such workflow")
    return workflow


def workflows_list(*, tenant: Tenant, archived: bool = False, search: str = "") -> list[Workflow]:
    """The tenant's workflows (archived or not) by slug, those whose name or slug holds `search`."""
    rows = Workflow.objects.filter(tenant=tenant, archived=archived).select_related("published_version").order_by("slug")
    if search:
        rows = rows.filter(name__icontains=search) | rows.filter(slug__icontains=search)
    return list(rows[:500])


def versions_list(*, workflow: Workflow) -> list[WorkflowVersion]:
    """A workflow's newest 200 versions, newest first (the workflow was read through workflow_get)."""
    return list(workflow.versions.select_related("author", "workflow").order_by("-number")[:200])


def workflow_get_by_slug(*, tenant: Tenant, slug: str) -> Workflow:
    workflow = Workflow.objects.filter(tenant=tenant, slug=slug).first()
    if workflow is None:
        raise NotFound("workflow", f"no workflow named {slug}")
    return workflow


def version_get(*, tenant: Tenant, workflow: Workflow, number: Any) -> WorkflowVersion:
    version = (WorkflowVersion.objects.filter(tenant=tenant, workflow=workflow, number=number).first()
               if str(number).isdigit() else None)
    if version is None:
        raise NotFound("version", "no such version")
    return version


def _semantic(node) -> tuple:
    data = {k: v for k, v in node.data.items() if k != "label"}
    return node.type, repr(sorted(data.items(), key=lambda kv: kv[0]))


def version_diff(*, old: WorkflowVersion, new: WorkflowVersion) -> dict:
    """Nodes added, removed and changed between two versions, and which steps of an instance of
    `old` keep valid checkpoints if it is restarted on `new`: those whose node and every upstream
    node (and the edges between them) are unchanged. A code-first version has no graph: nothing is
    known to be unchanged."""
    a, b = parse(old.graph or {}), parse(new.graph or {})
    added = sorted(set(b.nodes) - set(a.nodes))
    removed = sorted(set(a.nodes) - set(b.nodes))

    def inputs(g, n):
        return sorted((e.source, e.source_handle or "") for e in g.incoming(n))

    changed = sorted(n for n in set(a.nodes) & set(b.nodes)
                     if _semantic(a.nodes[n]) != _semantic(b.nodes[n]) or inputs(a, n) != inputs(b, n))
    valid = sorted(
        n for n in set(a.nodes) & set(b.nodes)
        if n not in changed and a.ancestors(n) == b.ancestors(n) and not (b.ancestors(n) & set(changed))
    ) if old.graph and new.graph else []
    return {"added": added, "removed": removed, "changed": changed, "valid_checkpoints": valid}


def version_check(*, tenant: Tenant, workflow: Workflow, version: WorkflowVersion) -> dict:
    """The safe-deploy check of `version` (engine.deploycheck): the workflow's instances in flight
    and its errored ones replayed against its program, with the published version's number."""
    report = replay_check(tenant=tenant, workflow_id=workflow.pk, version=version)
    published = workflow.published_version
    return {**report, "published": published.number if published else None}


def check_summary(report: dict) -> str:
    """The check in one sentence, as the editor's Publish dialog says it."""
    v, flight, failed = report["version"], report["in_flight"], report["restartable"]
    parts = []
    if flight["total"]:
        on = ", ".join(f"v{n}" for n in report["versions"])
        parts.append(f"{flight['total']} in-flight instance{'s' if flight['total'] != 1 else ''} stay on {on}; "
                     f"on v{v} their checkpoints would hold for {flight['continues']}"
                     + "".join(f", diverge at `{step}` for {n}" for step, n in flight["diverges_at"].items())
                     + (f", fail for {flight['fails']}" if flight["fails"] else ""))
    if failed["total"]:
        parts.append(f"restarting failed ones on v{v} would keep their checkpoints: yes for {failed['continues']}"
                     + "".join(f", diverges at `{step}` for {n}" for step, n in failed["diverges_at"].items())
                     + (f", fails for {failed['fails']}" if failed["fails"] else ""))
    return "; ".join(parts) + "." if parts else "No instance in flight: nothing to check."
