"""Writes on workflows and versions."""
import hashlib

from django.db import transaction
from django.db.models import Max

from tenants.models import Tenant

from .models import Workflow, WorkflowVersion


def workflow_create(*, tenant: Tenant, slug: str, name: str = "") -> Workflow:
    return Workflow.objects.create(tenant=tenant, slug=slug, name=name or slug)


@transaction.atomic
def version_create_from_code(
    *, workflow: Workflow, program: str, graph: dict | None = None, publish: bool = True
) -> WorkflowVersion:
    """Add an immutable version holding `program`; new instances use the published version."""
    # Lock the workflow row so two concurrent saves cannot take the same number.
    workflow = Workflow.objects.select_for_update().get(pk=workflow.pk)
    last = workflow.versions.aggregate(n=Max("number"))["n"] or 0
    version = WorkflowVersion.objects.create(
        tenant_id=workflow.tenant_id,
        workflow=workflow,
        number=last + 1,
        graph=graph,
        program=program,
        program_hash=hashlib.sha256(program.encode()).hexdigest(),
    )
    if publish:
        workflow.published_version = version
        workflow.save(update_fields=["published_version"])
    return version
