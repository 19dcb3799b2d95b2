from django.contrib import admin

from .models import Workflow, WorkflowVersion


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "tenant", "published_version")
    list_select_related = ("tenant", "published_version")


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    list_display = ("workflow", "number", "program_hash", "created_at")
    readonly_fields = ("workflow", "number", "program", "program_hash", "graph", "tenant")
