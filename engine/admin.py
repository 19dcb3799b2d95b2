"""Read-only views of the engine's rows for operators (the operator console issue replaces this)."""
from django.contrib import admin

from .models import Instance, StepRecord


class StepInline(admin.TabularInline):
    model = StepRecord
    fields = ("name", "occurrence", "kind", "status", "attempts", "output", "error", "wake_at", "started_at", "finished_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("key", "tenant", "workflow", "status", "created_at", "due_at")
    list_filter = ("status",)
    search_fields = ("key",)
    list_select_related = ("tenant", "workflow")
    inlines = [StepInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
