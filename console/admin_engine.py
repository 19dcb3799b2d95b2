"""The operator console's instance pages: every tenant's instances, read-only, with pause, resume,
terminate and restart-from-the-failed-step for one instance or a selection.

Invariants:
- Nothing here writes an instance directly: every action calls engine.services with the
  instance's own tenant (the same conditional transitions the API uses), and each instance an
  action changed gets an AuditEntry (staff user, IP, instance id).
- The list stays fast with millions of rows: it never counts (InfinitePaginator,
  show_full_result_count = False), every filter it offers has an index ending in created_at
  (engine.models Instance.Meta.indexes), search is by exact id or key (indexed), and a page
  loads its tenants and workflows in one query each, without their large JSON columns.
- A bulk action handles at most BULK_LIMIT instances (the newest selected): an operator who
  selects "all" of a million rows gets a bounded transaction count, and runs it again for more.
"""
from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import timedelta
from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q, TextField
from django.db.models.functions import Cast
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (AutocompleteSelectFilter, ChoicesDropdownFilter, DropdownFilter,
                                          TextFilter)
from unfold.decorators import action, display
from unfold.paginator import InfinitePaginator

from builder.models import Workflow
from .actions import RefuseNulFilters, confirm_page, confirmed, operator_audit
from tenants.errors import DomainError
from tenants.models import Tenant

from engine import clock, progress, services
from engine.models import Attempt, Event, Instance, ProgressEvent, StepRecord

S = Instance.Status
# The confirmation page posts the ids back: 500 stays under DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000).
BULK_LIMIT = 500
DETAIL_STEPS = 1000
STATUS_COLORS = {
    "queued": "info", "running": "info", "waitingForPause": "warning", "paused": "warning",
    "waiting": "info", "errored": "danger", "terminated": "danger", "complete": "success",
}

# Operation name -> (service, verb for messages, whether it is destructive).
OPERATIONS = {
    "pause": (services.instance_pause, "Pause", False),
    "resume": (services.instance_resume, "Resume", False),
    "terminate": (services.instance_terminate, "Terminate", True),
    "terminate_rollback": (partial(services.instance_terminate, rollback=True), "Terminate with rollback", True),
    "restart_failed": (services.instance_restart_failed, "Restart from the failed step", True),
}


class AgeFilter(DropdownFilter):
    title = "age"
    parameter_name = "age"
    SPANS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}

    def lookups(self, request, model_admin):
        return [("1h", "Created in the last hour"), ("24h", "Created in the last 24 hours"),
                ("7d", "Created in the last 7 days"), ("gt7d", "Older than 7 days"), ("gt30d", "Older than 30 days")]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        now = clock.now()  # the engine's time, which stamps created_at
        if value.startswith("gt") and value[2:] in self.SPANS:
            return queryset.filter(created_at__lt=now - self.SPANS[value[2:]])
        if value in self.SPANS:
            return queryset.filter(created_at__gte=now - self.SPANS[value])
        return queryset


class ErrorTextFilter(TextFilter):
    """Instances whose error (its JSON text: name and message) contains the text, any case.
    Walks the instances with an error newest first (partial index instance_error_created) and stops
    after a page of matches: a rare text reads every instance with an error."""

    title = "error text"
    parameter_name = "error"

    def queryset(self, request, queryset):
        text = (self.value() or "").strip()
        if not text:
            return queryset
        return queryset.filter(error__isnull=False).alias(error_text=Cast("error", TextField())).filter(
            error_text__icontains=text)


def pretty_json(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # shown as stored
            pass
    return format_html('<pre class="text-xs overflow-x-auto max-h-96 whitespace-pre-wrap">{}</pre>',
                       json.dumps(value, indent=2, default=str))


@admin.register(Instance)
class InstanceAdmin(RefuseNulFilters, ModelAdmin):
    list_display = ("key_link", "tenant", "workflow_slug", "status_badge", "created_at", "finished_at", "error_text")
    list_display_links = None
    list_filter = (
        ("tenant", AutocompleteSelectFilter),
        ("workflow", AutocompleteSelectFilter),
        ("status", ChoicesDropdownFilter),
        AgeFilter,
        ErrorTextFilter,
    )
    list_filter_submit = True
    search_fields = ("key",)  # see get_search_results: exact id or key, never a LIKE scan
    search_help_text = "An instance id (uuid) or key, exactly."
    # Tenants and workflows of a page come in one query each (prefetch), not by JOIN: with the
    # joins, SQLite's planner starts from the small table and sorts every instance by created_at;
    # alone, the instance query walks an index ending in created_at and stops after one page.
    list_select_related = ()  # (False would make the admin select_related() every foreign key)
    ordering = ("-created_at",)
    # Rendering dominates a page (unfold's row template costs ~1.5-3 ms a row here), not the query.
    list_per_page = 50
    list_max_show_all = 50
    paginator = InfinitePaginator
    show_full_result_count = False
    actions = ["bulk_pause", "bulk_resume", "bulk_terminate", "bulk_terminate_rollback", "bulk_restart_failed"]
    actions_detail = ["pause_one", "resume_one", "terminate_one", "terminate_rollback_one", "restart_failed_one"]
    change_form_template = "admin/engine/instance/change_form.html"
    fieldsets = [
        (None, {"fields": ["id", "key", "tenant", "workflow", "version_link", "parent", "status_badge"]}),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "due_at", "lease_owner", "recoveries",
                               "suspended"]}),
        ("Data", {"fields": ["params_json", "output_json", "error_json", "rollback_json"]}),
    ]
    readonly_fields = ["id", "key", "tenant", "workflow", "version_link", "parent", "status_badge", "created_at",
                       "started_at", "finished_at", "due_at", "lease_owner", "recoveries", "suspended",
                       "params_json", "output_json", "error_json", "rollback_json"]

    def get_changelist(self, request, **kwargs):
        base = super().get_changelist(request, **kwargs)

        class UncountedChangeList(base):
            def get_results(self, request):
                super().get_results(request)
                # The paginator never counts, so "select all" offers what a bulk action takes:
                # the newest BULK_LIMIT matching instances (the action bar prints this text).
                self.result_count = f"{BULK_LIMIT} newest matching"

        return UncountedChangeList

    @display(description="workflow", ordering="workflow")
    def workflow_slug(self, obj):
        return obj.workflow.slug

    def get_queryset(self, request):
        # Large JSON columns stay out of list pages; the detail page reads them (get_object).
        return super().get_queryset(request).defer("params", "output", "wait_types").prefetch_related(
            Prefetch("tenant", queryset=Tenant.objects.only("pk", "slug")),
            Prefetch("workflow", queryset=Workflow.objects.only("pk", "slug", "tenant_id")))

    def get_object(self, request, object_id, from_field=None):
        return Instance.objects.select_related("tenant", "workflow", "version", "parent").defer(
            "version__program", "version__graph", "workflow__draft").filter(pk=self._uuid(object_id)).first()

    @staticmethod
    def _uuid(value):
        try:
            return uuid.UUID(str(value))
        except ValueError:
            return None

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        as_uuid = self._uuid(term)
        if as_uuid is not None:
            # 32 hex digits are a uuid and also a valid caller-chosen key: both, indexed.
            return queryset.filter(Q(pk=as_uuid) | Q(key=term)), False
        return queryset.filter(key=term), False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # terminate, or let retention remove finished instances

    def has_change_permission(self, request, obj=None):
        # The detail page is read-only; actions check `operate` (staff with the change permission).
        return False

    def can_operate(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and request.user.has_perm("engine.change_instance")

    def get_actions(self, request):
        actions = super().get_actions(request)
        return actions if self.can_operate(request) else {}

    # Which single-instance actions apply to an instance in each status (the services refuse the rest).
    APPLIES = {
        "pause_one": (S.QUEUED, S.RUNNING, S.WAITING),
        "resume_one": (S.PAUSED, S.WAITING_FOR_PAUSE),
        "terminate_one": Instance.ACTIVE,
        "terminate_rollback_one": Instance.ACTIVE,
        "restart_failed_one": (S.ERRORED,),
    }

    def get_actions_detail(self, request, object_id):
        if not self.can_operate(request):
            return []
        status = Instance.objects.filter(pk=self._uuid(object_id)).values_list("status", flat=True).first()
        return [a for a in super().get_actions_detail(request, object_id)
                if any(a.action_name.endswith(f"_{name}") and status in ok for name, ok in self.APPLIES.items())]

    # -- columns -----------------------------------------------------------------------------
    @display(description="instance", ordering="key")
    def key_link(self, obj):
        return format_html('<a href="{}" class="font-mono">{}</a>',
                           reverse("admin:engine_instance_change", args=[obj.pk]), obj.public_key)

    @display(description="status", ordering="status", label=STATUS_COLORS)
    def status_badge(self, obj):
        return obj.status

    @display(description="error")
    def error_text(self, obj):
        if not obj.error:
            return ""
        message = f"{obj.error.get('name', '')}: {obj.error.get('message', '')}" if isinstance(obj.error, dict) \
            else str(obj.error)
        return message[:120]

    @display(description="version")
    def version_link(self, obj):
        url = reverse("admin:builder_workflowversion_change", args=[obj.version_id])
        return format_html('<a href="{}">v{} ({})</a>', url, obj.version.number, obj.version.program_hash[:12])

    @display(description="params")
    def params_json(self, obj):
        return pretty_json(obj.params)

    @display(description="output")
    def output_json(self, obj):
        return pretty_json(obj.output)

    @display(description="error")
    def error_json(self, obj):
        return pretty_json(obj.error)

    @display(description="rollback phase")
    def rollback_json(self, obj):
        return pretty_json(obj.rollback)  # why it began and the error its handlers receive

    # -- detail: steps, attempts, logs, inbox ----------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        pk = self._uuid(object_id)
        extra_context = extra_context or {}
        if pk is not None:
            # A long instance (a loop over thousands of items) shows its first DETAIL_STEPS steps.
            steps = list(StepRecord.objects.filter(instance_id=pk).order_by("pk").prefetch_related(
                Prefetch("attempt_rows", queryset=Attempt.objects.order_by("number")))[:DETAIL_STEPS + 1])
            extra_context["steps_truncated"] = len(steps) > DETAIL_STEPS
            steps = steps[:DETAIL_STEPS]
            logs: dict[str, list] = {}
            rows = ProgressEvent.objects.filter(instance_id=pk).order_by("event_id").values(
                "event_id", "count", "created_at", "events")[:2000]
            for log in progress.events_of(rows):
                if log["type"] == "log":
                    logs.setdefault(log["step"] or "", []).append(log)
            for step in steps:
                step.logs = logs.pop(step.name, [])
                step.output_pretty = pretty_json(step.output) if step.output is not None else ""
                step.error_pretty = pretty_json(step.error) if step.error is not None else ""
            events = list(Event.objects.filter(instance_id=pk).select_related("consumed_by").order_by("pk")[:500])
            for event in events:
                event.payload_pretty = pretty_json(event.payload)
            extra_context.update(steps=steps, other_logs=[x for rows in logs.values() for x in rows], events=events)
        return super().change_view(request, object_id, form_url, extra_context)

    # -- actions -------------------------------------------------------------------------------
    def _impact(self, op: str, instances: list[Instance]) -> list[str]:
        by_status = Counter(i.status for i in instances)
        lines = [", ".join(f"{n} {status}" for status, n in sorted(by_status.items())) or "no instances"]
        if op == "pause":
            lines += [f"{by_status[S.RUNNING]} running pause at their next step boundary (waitingForPause).",
                      f"{by_status[S.QUEUED] + by_status[S.WAITING]} queued or waiting pause now; their timers "
                      "and inboxes are kept."]
        elif op == "resume":
            lines += [f"{by_status[S.PAUSED] + by_status[S.WAITING_FOR_PAUSE]} paused or pausing continue where "
                      "they stopped.", "Instances of a suspended tenant are skipped: unsuspend the tenant."]
        elif op == "terminate":
            active = sum(by_status[s] for s in Instance.ACTIVE)
            lines += [f"{active} active instance(s) stop for good; a worker running one writes nothing more.",
                      "Terminated instances cannot be resumed (restart them instead)."]
        elif op == "terminate_rollback":
            active = sum(by_status[s] for s in Instance.ACTIVE)
            lines += [f"{active} active instance(s) first run the rollback handlers of their completed steps "
                      "(latest first), then end terminated; a running one stops at its next step boundary.",
                      "Terminated instances cannot be resumed (restart them instead)."]
        else:
            lines += [f"{by_status[S.ERRORED]} errored instance(s) run again from their first failed step; "
                      "the checkpoints before it are kept.", "Instances of a suspended tenant are skipped: unsuspend "
                      "the tenant."]
        finished_skip = {"pause": Instance.FINISHED, "resume": Instance.FINISHED, "terminate": (S.TERMINATED, S.COMPLETE, S.ERRORED),
                         "terminate_rollback": (S.TERMINATED, S.COMPLETE, S.ERRORED)}
        skipped = sum(n for s, n in by_status.items() if s in finished_skip.get(op, ())) if op != "restart_failed" \
            else sum(n for s, n in by_status.items() if s != S.ERRORED)
        if skipped:
            lines.append(f"{skipped} instance(s) are skipped: the action does not apply to their status.")
        return lines

    def _apply(self, request, op: str, instances: list[Instance]) -> tuple[int, Counter]:
        service, _, _ = OPERATIONS[op]
        done, skipped = 0, Counter()
        for instance in instances:
            # A suspended tenant runs nothing: resuming or restarting would queue its instances.
            if op in ("resume", "restart_failed") and instance.tenant.status == Tenant.Status.SUSPENDED:
                skipped["tenant suspended"] += 1
                continue
            try:
                after = service(tenant=instance.tenant, instance_id=instance.pk)
            except DomainError as e:
                skipped[e.message] += 1
                continue
            unchanged = after.status == instance.status and (op != "terminate_rollback" or after.rollback is None)
            if unchanged and op != "restart_failed":
                skipped[f"already {instance.status}"] += 1
                continue
            operator_audit(request, action=f"instance.{op}", tenant=instance.tenant, target=str(instance.pk),
                           details={"workflow": instance.workflow_id, "key": instance.key,
                                    "from": instance.status, "to": after.status})
            done += 1
        return done, skipped

    @staticmethod
    def _report(request, verb: str, done: int, skipped: Counter) -> None:
        messages.success(request, f"{verb}: {done} instance(s).")
        if skipped:
            messages.warning(request, "Skipped: " + "; ".join(f"{n} ({why})" for why, n in skipped.most_common()))

    def _bulk(self, request, queryset, op: str):
        if not self.can_operate(request):
            raise PermissionDenied
        _, verb, destructive = OPERATIONS[op]
        instances = list(queryset.select_related("tenant").only(
            "pk", "key", "status", "tenant", "workflow_id", "tenant__status", "tenant__slug")
            .order_by("-created_at")[:BULK_LIMIT])
        if not confirmed(request):
            impact = self._impact(op, instances)
            if len(instances) == BULK_LIMIT:
                impact.append(f"At most {BULK_LIMIT} instances per action (the newest selected): run it again "
                              "for the rest.")
            return confirm_page(
                request, title=f"{verb}: {len(instances)} instance(s)", opts=self.opts, danger=destructive,
                cancel_url=request.get_full_path(), confirm_label=verb,
                question=f"{verb} {len(instances)} instance(s)?", impact=impact,
                hidden=[("action", f"bulk_{op}"), *[("_selected_action", str(i.pk)) for i in instances]],
            )
        done, skipped = self._apply(request, op, instances)
        self._report(request, verb, done, skipped)
        return None

    @admin.action(description="Pause selected instances")
    def bulk_pause(self, request, queryset):
        return self._bulk(request, queryset, "pause")

    @admin.action(description="Resume selected instances")
    def bulk_resume(self, request, queryset):
        return self._bulk(request, queryset, "resume")

    @admin.action(description="Terminate selected instances")
    def bulk_terminate(self, request, queryset):
        return self._bulk(request, queryset, "terminate")

    @admin.action(description="Terminate selected instances with rollback")
    def bulk_terminate_rollback(self, request, queryset):
        return self._bulk(request, queryset, "terminate_rollback")

    @admin.action(description="Restart selected instances from the failed step")
    def bulk_restart_failed(self, request, queryset):
        return self._bulk(request, queryset, "restart_failed")

    def _one(self, request, object_id, op: str):
        if not self.can_operate(request):
            raise PermissionDenied
        instance = get_object_or_404(Instance.objects.select_related("tenant"), pk=self._uuid(object_id))
        _, verb, destructive = OPERATIONS[op]
        back = reverse("admin:engine_instance_change", args=[instance.pk])
        if not confirmed(request):
            return confirm_page(
                request, title=f"{verb}: {instance.key}", opts=self.opts, danger=destructive, cancel_url=back,
                confirm_label=verb, question=f"{verb} instance {instance.key} ({instance.pk}) of tenant "
                                             f"{instance.tenant.slug}?", impact=self._impact(op, [instance]),
            )
        done, skipped = self._apply(request, op, [instance])
        self._report(request, verb, done, skipped)
        return HttpResponseRedirect(back)

    @action(description="Pause", url_path="pause", icon="pause")
    def pause_one(self, request, object_id):
        return self._one(request, object_id, "pause")

    @action(description="Resume", url_path="resume", icon="play_arrow")
    def resume_one(self, request, object_id):
        return self._one(request, object_id, "resume")

    @action(description="Terminate", url_path="terminate", icon="stop")
    def terminate_one(self, request, object_id):
        return self._one(request, object_id, "terminate")

    @action(description="Terminate with rollback", url_path="terminate-rollback", icon="undo")
    def terminate_rollback_one(self, request, object_id):
        return self._one(request, object_id, "terminate_rollback")

    @action(description="Restart from failed step", url_path="restart-failed", icon="replay")
    def restart_failed_one(self, request, object_id):
        return self._one(request, object_id, "restart_failed")
