"""The operator console's workflow pages: read-only. Operators look at what a tenant drew and what
it compiled to; changing a workflow is the tenant's business (the editor and the API)."""
from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from builder.models import Workflow, WorkflowVersion


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def node_table(graph) -> str:
    """The graph's nodes as a table: id (= step name), type, and what leads into each."""
    if not isinstance(graph, dict):
        return "(code-first: no graph)"
    nodes = [n for n in graph.get("nodes") or [] if isinstance(n, dict)]
    inputs: dict[str, list[str]] = {}
    for edge in graph.get("edges") or []:
        if isinstance(edge, dict):
            inputs.setdefault(str(edge.get("target")), []).append(str(edge.get("source")))
    rows = format_html_join(
        "", "<tr><td class='pr-6 font-mono'>{}</td><td class='pr-6'>{}</td><td class='font-mono'>{}</td></tr>",
        ((n.get("id"), n.get("type"), ", ".join(inputs.get(str(n.get("id")), [])) or "-") for n in nodes),
    )
    return format_html(
        "<table data-console-nodes><thead><tr><th class='text-left pr-6'>node (step)</th>"
        "<th class='text-left pr-6'>type</th><th class='text-left'>inputs</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def pre(text: str) -> str:
    return format_html('<pre class="text-xs overflow-x-auto max-h-[40rem] whitespace-pre">{}</pre>', text)


class VersionInline(ReadOnly, TabularInline):
    model = WorkflowVersion
    fields = ("number", "program_hash", "author", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    ordering = ("-number",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").defer("program", "graph")


@admin.register(Workflow)
class WorkflowAdmin(ReadOnly, ModelAdmin):
    list_display = ("slug", "name", "tenant", "published", "archived", "updated_at")
    list_filter = ("archived",)
    search_fields = ("slug", "name", "tenant__slug")
    list_select_related = ("tenant", "published_version")
    ordering = ("tenant__slug", "slug")
    fields = ("tenant", "slug", "name", "published_version", "archived", "created_at", "updated_at", "draft_nodes",
              "instances_link")
    readonly_fields = fields
    inlines = [VersionInline]

    def get_queryset(self, request):
        # Drafts and published programs can be a megabyte each: the list never reads them, the
        # detail page reads its one workflow's draft when it shows it.
        return super().get_queryset(request).defer("draft", "published_version__program", "published_version__graph")

    @display(description="published")
    def published(self, obj):
        return f"v{obj.published_version.number}" if obj.published_version else "-"

    @display(description="draft nodes")
    def draft_nodes(self, obj):
        return node_table(obj.draft)

    @display(description="instances")
    def instances_link(self, obj):
        url = reverse("admin:engine_instance_changelist") + f"?workflow__id__exact={obj.pk}"
        return format_html('<a href="{}">Instances of this workflow</a>', url)


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ReadOnly, ModelAdmin):
    list_display = ("workflow", "number", "tenant", "short_hash", "author", "created_at")
    search_fields = ("=program_hash", "workflow__slug", "tenant__slug")
    list_select_related = ("workflow", "tenant", "author")
    ordering = ("-created_at",)
    fields = ("tenant", "workflow", "number", "author", "created_at", "program_hash", "nodes", "program_source",
              "graph_json")
    readonly_fields = fields

    def get_queryset(self, request):
        # As above: the list shows no program, graph or draft; the detail page reads its version's.
        return super().get_queryset(request).defer("program", "graph", "workflow__draft")

    @display(description="hash", ordering="program_hash")
    def short_hash(self, obj):
        return obj.program_hash[:12]

    @display(description="nodes")
    def nodes(self, obj):
        return node_table(obj.graph)

    @display(description="compiled program")
    def program_source(self, obj):
        return pre(obj.program)

    @display(description="graph (JSON)")
    def graph_json(self, obj):
        return pre(json.dumps(obj.graph, indent=2)) if obj.graph is not None else "-"
