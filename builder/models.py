"""Workflow definitions.

A Workflow is the tenant's editable thing; a WorkflowVersion is immutable once created: its
program (an ES module, `export default async function run(event, step)`) and the program's hash
never change, so an Instance pinned to a version always replays the same code.
"""
from django.db import models


class Workflow(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="workflows")
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    published_version = models.ForeignKey(
        "builder.WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="workflow_slug_per_tenant")]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.slug}"


class WorkflowVersion(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    # The drawn graph, when the version came from the editor; null for code-first programs.
    graph = models.JSONField(null=True, blank=True)
    program = models.TextField()
    program_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_number_per_workflow")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"
