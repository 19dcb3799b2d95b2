"""Workflow definitions.

A Workflow is the tenant's editable thing (its draft graph); a WorkflowVersion is immutable once
created: its graph, program (an ES module, `export default async function run(event, step)`) and
the program's hash never change, so an Instance pinned to a version always replays the same code.
The published version is the one triggers start; a Schedule row exists per schedule trigger of it.
"""
from django.conf import settings
from django.db import models


class Workflow(models.Model):
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="workflows")
    slug = models.SlugField(max_length=63)
    name = models.CharField(max_length=200)
    draft = models.JSONField(null=True, blank=True)  # the editor's graph, saved as drawn
    # The draft's pinned test data, {node id: output}: test runs seed these nodes' steps with it
    # instead of running them (builder.services.workflow_pin; checked like step results).
    pins = models.JSONField(default=dict, blank=True)
    published_version = models.ForeignKey(
        "builder.WorkflowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    archived = models.BooleanField(default=False)
    # Settings: `concurrency: {limit}`, the most instances of this workflow a worker advances at
    # once (null: only the tenant's plan caps it); more wait their turn, queued (engine.lease).
    concurrency_limit = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="version_number_per_workflow")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"


class Schedule(models.Model):
    """A schedule trigger of a workflow's published version; `next_at` is claimed by compare-and-set."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="schedules")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=256)
    cron = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, default="UTC")
    overlap = models.CharField(max_length=8, default="skip")
    next_at = models.DateTimeField(db_index=True)
    active = models.BooleanField(default=True)
