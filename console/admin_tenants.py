"""The operator console's tenant pages: tenants with usage against quotas and instance counts,
plan limits, suspension, members, API keys, the audit log, and staff users.

Invariants:
- Reads are read-only: a tenant's slug, status and usage are never edited here; the status
  changes only through tenants.services.tenant_suspend / tenant_unsuspend, plan limits only
  through tenant_limits_set, keys only through tenants.access.api_key_revoke. Each is audited
  with the staff user and IP (console.actions), as are changes to users.
- The tenant list costs a fixed number of queries whatever the page size: usage and instance
  counts are correlated subqueries of the page's one SELECT, and instance counts are capped
  (COUNT_CAP), so a tenant with millions of instances costs a bounded index range.
"""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.db.models import BigIntegerField, Count, OuterRef, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import AutocompleteSelectFilter, DropdownFilter, RangeDateFilter
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.paginator import InfinitePaginator
from unfold.widgets import UnfoldAdminBigIntegerFieldWidget, UnfoldAdminDecimalFieldWidget

from tenants.access import api_key_revoke
from tenants.audit import client_ip
from tenants.limits import limits_for
from tenants.models import ApiKey, AuditEntry, Invitation, Membership, Tenant, Usage
from tenants.services import tenant_limits_set, tenant_suspend, tenant_unsuspend

from .actions import RefuseNulFilters, actor, confirm_page, confirmed, operator_audit

COUNT_CAP = 10_000
# Instance statuses counted per tenant: running includes a pause requested but not yet reached.
COUNTED = {"running": ("running", "waitingForPause"), "waiting": ("waiting",), "failed": ("errored",)}


def int_pk(value) -> int | None:
    """An integer primary key from a URL, or None (a lookup by None finds nothing: 404, not 500)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def month_start():
    return timezone.now().date().replace(day=1)


def capped_count(statuses: tuple[str, ...]) -> RawSQL:
    """COUNT of the tenant's instances in `statuses`, stopping at COUNT_CAP rows: the inner LIMIT
    bounds the index range read (instance_tenant_status) however many rows the tenant has."""
    from engine.models import Instance

    marks = ", ".join(["%s"] * len(statuses))
    return RawSQL(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {Instance._meta.db_table} i WHERE i.tenant_id = "
        f"{Tenant._meta.db_table}.id AND i.status IN ({marks}) LIMIT {COUNT_CAP}) capped",
        statuses, output_field=BigIntegerField(),
    )


def usage_sum(field: str, since=None) -> Subquery:
    rows = Usage.objects.filter(tenant=OuterRef("pk"))
    if since is not None:
        rows = rows.filter(day__gte=since)
    return Subquery(rows.values("tenant").annotate(total=Sum(field)).values("total")[:1],
                    output_field=BigIntegerField())


def fmt_count(n: int | None) -> str:
    n = n or 0
    return f"{n:,}+" if n >= COUNT_CAP else f"{n:,}"


def fmt_bytes(n: int | None) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return ""


def against(used: int | None, quota: int | None, text: str, fmt=lambda n: f"{n:,}") -> str:
    """`used` against `quota`, with the share in percent; red from 90%."""
    if not quota:
        return text
    share = 100 * (used or 0) / quota
    color = "text-red-600" if share >= 90 else "text-font-subtle-light dark:text-font-subtle-dark"
    return format_html('{} <span class="{}">({}% of {})</span>', text, color, f"{share:.0f}", fmt(quota))


class TenantLimitsForm(forms.ModelForm):
    """Plan limits as form fields (see limits_form); blank follows the default."""

    class Meta:
        model = Tenant
        fields: list[str] = []

    def limit_values(self) -> dict:
        return {key: self.cleaned_data.get(f"limit_{key}") for key in settings.TENANT_DEFAULT_LIMITS}


def limits_form(tenant: Tenant | None) -> type[TenantLimitsForm]:
    """A form class with one declared field per plan limit (settings.TENANT_DEFAULT_LIMITS), of the
    default's type, positive, its initial value the tenant's override. Built per request: the
    admin only accepts declared fields beside model fields, and the known keys live in settings."""
    current = (tenant.limits if tenant else None) or {}
    fields = {}
    for key, default in settings.TENANT_DEFAULT_LIMITS.items():
        whole = isinstance(default, int)
        fields[f"limit_{key}"] = (forms.IntegerField if whole else forms.FloatField)(
            required=False, label=key.replace("_", " "), initial=current.get(key),
            min_value=1 if whole else 0.001, help_text=f"default {default:,}; leave blank for the default",
            widget=UnfoldAdminBigIntegerFieldWidget(attrs={"placeholder": f"{default}"}) if whole
            else UnfoldAdminDecimalFieldWidget(attrs={"placeholder": f"{default}", "step": "any"}),
        )
    return type("TenantLimitsForm", (TenantLimitsForm,), fields)


class ReadOnlyTab(TabularInline):
    """A tab of the tenant's page listing related rows that the console shows but does not edit."""

    extra = 0
    can_delete = False
    tab = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False


class MembershipInline(ReadOnlyTab):
    model = Membership
    fields = ("user", "role")
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class InvitationInline(ReadOnlyTab):
    """Invitations the tenant's owners sent (read-only: inviting is the owners' business)."""

    model = Invitation
    fields = ("email", "username", "role", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("accepted_by").order_by("-created_at")


class ApiKeyInline(ReadOnlyTab):
    model = ApiKey
    fields = ("name", "prefix", "role", "created_at", "last_used_at", "expires_at", "revoked_at", "revoke_link")

    @display(description="")
    def revoke_link(self, obj):
        if obj.revoked_at or not obj.pk:
            return ""
        url = reverse("admin:tenants_apikey_revoke", args=[obj.pk])
        return format_html('<a class="text-red-600" href="{}">Revoke</a>', url)


@admin.register(Tenant)
class TenantAdmin(RefuseNulFilters, ModelAdmin):
    form = TenantLimitsForm
    list_display = ("slug", "name", "status_badge", "plan", "steps_month", "cpu_month", "http_month",
                    "stored", "running", "waiting", "failed")
    list_filter = ("status",)
    search_fields = ("slug", "name")
    ordering = ("slug",)
    list_per_page = 50
    readonly_fields = ("slug", "name", "status_badge", "created_at", "usage_summary", "instance_summary")
    inlines = [MembershipInline, InvitationInline, ApiKeyInline]
    actions_detail = ["suspend_tenant", "unsuspend_tenant"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["slug", "name", "status_badge", "created_at"]}),
            ("Usage this month", {"fields": ["usage_summary", "instance_summary"]}),
            ("Plan limits", {"fields": [f"limit_{k}" for k in settings.TENANT_DEFAULT_LIMITS],
                             "description": "Blank fields follow the platform's default."}),
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        return super().get_form(request, obj, change=change, form=limits_form(obj), **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            return queryset  # the tenant pickers of other pages need slugs, not usage
        month = month_start()
        return queryset.annotate(
            u_steps=usage_sum("steps", month), u_cpu=usage_sum("cpu_ms", month),
            u_http=usage_sum("http_calls", month), u_stored=usage_sum("bytes_stored"),
            n_running=capped_count(COUNTED["running"]), n_waiting=capped_count(COUNTED["waiting"]),
            n_failed=capped_count(COUNTED["failed"]),
        )

    def has_add_permission(self, request):
        return False  # tenants are created by sign-up

    def has_delete_permission(self, request, obj=None):
        return False  # suspension stops a tenant without losing anything

    # -- list columns -----------------------------------------------------------------------
    @display(description="status", ordering="status", label={"active": "success", "suspended": "danger"})
    def status_badge(self, obj):
        return obj.status

    @display(description="plan")
    def plan(self, obj):
        return f"custom ({len(obj.limits)})" if obj.limits else "default"

    @display(description="steps (month)", ordering="u_steps")
    def steps_month(self, obj):
        return against(obj.u_steps, limits_for(obj).steps_per_month, f"{obj.u_steps or 0:,}")

    @display(description="sandbox CPU ms (month)", ordering="u_cpu")
    def cpu_month(self, obj):
        return f"{obj.u_cpu or 0:,}"

    @display(description="HTTP calls (month)", ordering="u_http")
    def http_month(self, obj):
        return f"{obj.u_http or 0:,}"

    @display(description="stored", ordering="u_stored")
    def stored(self, obj):
        return against(obj.u_stored, limits_for(obj).stored_bytes, fmt_bytes(obj.u_stored), fmt_bytes)

    @display(description="running", ordering="n_running")
    def running(self, obj):
        return fmt_count(obj.n_running)

    @display(description="waiting", ordering="n_waiting")
    def waiting(self, obj):
        return fmt_count(obj.n_waiting)

    @display(description="failed", ordering="n_failed")
    def failed(self, obj):
        if not obj.n_failed:
            return "0"
        url = reverse("admin:engine_instance_changelist") + f"?tenant__id__exact={obj.pk}&status__exact=errored"
        return format_html('<a class="text-red-600" href="{}">{}</a>', url, fmt_count(obj.n_failed))

    # -- detail ------------------------------------------------------------------------------
    @display(description="usage")
    def usage_summary(self, obj):
        plan = limits_for(obj)
        rows = [
            ("Steps", against(obj.u_steps, plan.steps_per_month, f"{obj.u_steps or 0:,}")),
            ("Sandbox CPU", f"{obj.u_cpu or 0:,} ms"),
            ("HTTP calls", f"{obj.u_http or 0:,}"),
            ("Stored (all time)", against(obj.u_stored, plan.stored_bytes, fmt_bytes(obj.u_stored), fmt_bytes)),
        ]
        return format_html('<dl class="grid grid-cols-2 gap-x-6 gap-y-1" data-console-usage>{}</dl>',
                           format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))

    @display(description="instances")
    def instance_summary(self, obj):
        url = reverse("admin:engine_instance_changelist") + f"?tenant__id__exact={obj.pk}"
        audit = reverse("admin:tenants_auditentry_changelist") + f"?tenant__id__exact={obj.pk}"
        return format_html('<a href="{}">{} running, {} waiting, {} failed</a> · <a href="{}">audit log</a>', url,
                           fmt_count(obj.n_running), fmt_count(obj.n_waiting), fmt_count(obj.n_failed), audit)

    def save_model(self, request, obj, form, change):
        # Plan limits go through the service (validated, audited); nothing else here is editable.
        if not form.has_changed():
            return
        tenant_limits_set(tenant=obj, limits=form.limit_values(), actor=actor(request), ip=client_ip(request))

    # -- suspension --------------------------------------------------------------------------
    def get_actions_detail(self, request, object_id):
        if not self.has_change_permission(request):
            return []
        status = Tenant.objects.filter(pk=int_pk(object_id)).values_list("status", flat=True).first()
        hidden = "suspend_tenant" if status == Tenant.Status.SUSPENDED else "unsuspend_tenant"
        return [a for a in super().get_actions_detail(request, object_id) if not a.action_name.endswith(f"_{hidden}")]

    def _suspension_impact(self, tenant: Tenant) -> dict[str, int]:
        from builder.models import Schedule
        from engine.models import Instance

        S = Instance.Status
        counts = dict.fromkeys(("running", "queued", "waiting", "paused_by_suspension", "schedules"), 0)
        active = Instance.objects.filter(tenant=tenant, status__in=(S.RUNNING, S.WAITING_FOR_PAUSE, S.QUEUED, S.WAITING))
        for status, n in active.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"):
            key = "running" if status in (S.RUNNING, S.WAITING_FOR_PAUSE) else status
            counts[key] += n
        counts["paused_by_suspension"] = Instance.objects.filter(
            tenant=tenant, suspended=True, status__in=(S.PAUSED, S.WAITING_FOR_PAUSE)).count()
        counts["schedules"] = Schedule.objects.filter(tenant=tenant, active=True).count()
        return counts

    @action(description="Suspend", url_path="suspend", icon="block")
    def suspend_tenant(self, request, object_id):
        tenant = self._tenant_for_action(request, object_id)
        back = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if tenant.status == Tenant.Status.SUSPENDED:
            messages.warning(request, f"{tenant.slug} is already suspended.")
            return HttpResponseRedirect(back)
        if not confirmed(request):
            c = self._suspension_impact(tenant)
            return confirm_page(
                request, title=f"Suspend {tenant.slug}", opts=self.opts, cancel_url=back, confirm_label="Suspend",
                question=f"Suspend tenant {tenant.slug} ({tenant.name})?",
                impact=[
                    "Webhooks and API writes are refused (423) until the tenant is unsuspended.",
                    f"{c['running']} running instance(s) pause at their next step boundary.",
                    f"{c['queued'] + c['waiting']} queued or waiting instance(s) ({c['queued']} queued, "
                    f"{c['waiting']} waiting) pause now.",
                    f"{c['schedules']} schedule(s) stop firing.",
                    "Nothing is lost: committed steps, inboxes and timers are kept, and unsuspending resumes "
                    "exactly the instances suspension paused.",
                ],
            )
        paused = tenant_suspend(tenant=tenant, actor=actor(request), ip=client_ip(request))
        messages.success(request, f"{tenant.slug} is suspended; {paused} instance(s) paused or pausing.")
        return HttpResponseRedirect(back)

    @action(description="Unsuspend", url_path="unsuspend", icon="play_arrow")
    def unsuspend_tenant(self, request, object_id):
        tenant = self._tenant_for_action(request, object_id)
        back = reverse("admin:tenants_tenant_change", args=[tenant.pk])
        if tenant.status == Tenant.Status.ACTIVE:
            messages.warning(request, f"{tenant.slug} is not suspended.")
            return HttpResponseRedirect(back)
        if not confirmed(request):
            c = self._suspension_impact(tenant)
            return confirm_page(
                request, title=f"Unsuspend {tenant.slug}", opts=self.opts, cancel_url=back,
                confirm_label="Unsuspend", danger=False,
                question=f"Unsuspend tenant {tenant.slug} ({tenant.name})?",
                impact=[
                    "Webhooks, schedules and API writes are accepted again.",
                    f"{c['paused_by_suspension']} instance(s) paused by the suspension resume where they stopped.",
                    "Instances paused for another reason stay paused.",
                    f"{c['schedules']} schedule(s) fire again from their next slot.",
                ],
            )
        resumed = tenant_unsuspend(tenant=tenant, actor=actor(request), ip=client_ip(request))
        messages.success(request, f"{tenant.slug} is active again; {resumed} instance(s) resumed.")
        return HttpResponseRedirect(back)

    def _tenant_for_action(self, request, object_id) -> Tenant:
        tenant = get_object_or_404(Tenant, pk=int_pk(object_id))
        if not self.has_change_permission(request, tenant):
            raise PermissionDenied
        return tenant


@admin.register(ApiKey)
class ApiKeyAdmin(RefuseNulFilters, ModelAdmin):
    """Keys are shown (never their tokens) and revoked; creating one is the tenant's own business."""

    list_display = ("prefix", "name", "tenant", "role", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "tenant__slug")
    list_select_related = ("tenant",)
    ordering = ("-created_at",)
    readonly_fields = ("tenant", "name", "prefix", "role", "created_at", "last_used_at", "expires_at", "revoked_at")
    fields = readonly_fields  # never the token's hash
    actions_detail = ["revoke"]
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _revoke(self, request, keys: list[ApiKey]) -> int:
        done = 0
        for key in keys:
            if key.revoked_at is None:
                api_key_revoke(tenant=key.tenant, key_id=key.pk)
                operator_audit(request, action="key.revoke", tenant=key.tenant, target=key.prefix)
                done += 1
        return done

    @action(description="Revoke", url_path="revoke", icon="key_off")
    def revoke(self, request, object_id):
        key = get_object_or_404(ApiKey.objects.select_related("tenant"), pk=int_pk(object_id))
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        back = reverse("admin:tenants_apikey_change", args=[key.pk])
        if key.revoked_at is not None:
            messages.warning(request, f"{key.prefix} is already revoked.")
            return HttpResponseRedirect(back)
        if not confirmed(request):
            return confirm_page(
                request, title=f"Revoke {key.prefix}", opts=self.opts, cancel_url=back, confirm_label="Revoke",
                question=f"Revoke API key {key.prefix} ({key.name}) of tenant {key.tenant.slug}?",
                impact=["Programs using this key are refused (401) from now on.", "A revoked key cannot be restored."],
            )
        self._revoke(request, [key])
        messages.success(request, f"{key.prefix} is revoked.")
        return HttpResponseRedirect(reverse("admin:tenants_tenant_change", args=[key.tenant_id]))

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        keys = list(queryset.select_related("tenant").filter(revoked_at__isnull=True))
        if not confirmed(request):
            return confirm_page(
                request, title="Revoke API keys", opts=self.opts, cancel_url=request.get_full_path(),
                confirm_label="Revoke", question=f"Revoke {len(keys)} API key(s)?",
                impact=[f"{k.prefix} ({k.tenant.slug}: {k.name})" for k in keys],
                hidden=[("action", "revoke_selected"), *[("_selected_action", str(k.pk)) for k in keys]],
            )
        messages.success(request, f"{self._revoke(request, keys)} API key(s) revoked.")
        return None


class AuditActionFilter(DropdownFilter):
    """The actions the platform records (a fixed list: a DISTINCT over the log would scan it all)."""

    title = "action"
    parameter_name = "action"
    ACTIONS = ("tenant.suspend", "tenant.unsuspend", "tenant.limits", "key.create", "key.revoke", "secret.put",
               "secret.delete", "member.set", "member.remove", "version.publish", "instance.pause",
               "instance.resume", "instance.terminate", "instance.restart_failed", "user.create", "user.change",
               "user.delete", "account.login_failed", "account.locked_out", "mfa.activate",
               "mfa.reset", "member.invite", "member.invite_revoke", "member.join")

    def lookups(self, request, model_admin):
        return [(a, a) for a in self.ACTIONS]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class DayRangeFilter(RangeDateFilter):
    """From day to day, both included, on a datetime column (its index stays usable: no date cast)."""

    def queryset(self, request, queryset):
        from datetime import datetime, time, timedelta

        from unfold.utils import parse_date_str  # the formats the filter's date inputs send

        bounds = {}
        for suffix, lookup, shift in (("_from", "gte", 0), ("_to", "lt", 1)):
            raw = self.used_parameters.get(f"{self.parameter_name}{suffix}")
            day = parse_date_str(raw) if isinstance(raw, str) else None
            if day is not None:
                try:
                    start = datetime.combine(day + timedelta(days=shift), time.min, tzinfo=timezone.get_current_timezone())
                except OverflowError:  # "to 9999-12-31": no upper bound
                    continue
                bounds[f"{self.parameter_name}__{lookup}"] = start
        return queryset.filter(**bounds)


@admin.register(AuditEntry)
class AuditEntryAdmin(RefuseNulFilters, ModelAdmin):
    """Append-only: nobody edits, adds or deletes entries here (the retention purge deletes old ones).
    Newest first by the created_at index; pages are not counted (the log grows with every bulk action)."""

    list_display = ("created_at", "actor", "action", "target", "tenant", "ip")
    list_filter = (AuditActionFilter, ("tenant", AutocompleteSelectFilter), ("created_at", DayRangeFilter))
    list_filter_submit = True
    search_fields = ("=actor", "=target", "=ip", "=action")
    search_help_text = "An exact actor, target (instance id, key prefix, tenant slug...), IP address or action."
    list_select_related = ("tenant",)
    ordering = ("-created_at",)
    paginator = InfinitePaginator
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Staff and tenant people: Django's user admin in the console's theme, with changes audited.
admin.site.unregister(User)
admin.site.unregister(Group)
# allauth's own admin pages would edit authenticators and sessions unaudited: second factors are
# reset with the audited action on a user's page instead; email addresses stay, in the theme.
from allauth.account.admin import EmailAddressAdmin as BaseEmailAddressAdmin  # noqa: E402
from allauth.account.models import EmailAddress  # noqa: E402
from allauth.mfa.models import Authenticator  # noqa: E402
from allauth.usersessions.models import UserSession  # noqa: E402
import allauth.mfa.admin, allauth.usersessions.admin  # noqa: E401, E402, F401  (register first, then unregister)

for model in (Authenticator, UserSession, EmailAddress):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(EmailAddress)
class EmailAddressAdmin(BaseEmailAddressAdmin, ModelAdmin):
    pass


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    actions_detail = ["reset_second_factor"]

    @action(description="Reset second factor", url_path="reset-second-factor", icon="lock_reset")
    def reset_second_factor(self, request, object_id):
        """For a person who lost their authenticator: another operator deletes their factors (and
        recovery codes) and ends their sessions; they set a factor up again at their next sign-in."""
        from allauth.mfa.models import Authenticator

        from tenants.accounts.mfa import second_factor_reset

        person = get_object_or_404(User, pk=int_pk(object_id))
        back = reverse("admin:auth_user_change", args=[person.pk])
        if not self.has_change_permission(request, person):
            raise PermissionDenied
        if person.pk == request.user.pk:
            messages.error(request, "Reset your own factors from your account's Two-factor page, not here.")
            return HttpResponseRedirect(back)
        if not confirmed(request):
            kinds = sorted(set(Authenticator.objects.filter(user=person).values_list("type", flat=True)))
            return confirm_page(
                request, title=f"Reset {person.get_username()}'s second factor", opts=self.opts, cancel_url=back,
                confirm_label="Reset", question=f"Delete every second factor of {person.get_username()}?",
                impact=[f"Deleted: {', '.join(kinds) or 'nothing (none is set up)'}.",
                        "Their sessions end now; an operator sets a factor up again before the console opens."],
            )
        deleted = second_factor_reset(user=person, actor=actor(request), ip=client_ip(request))
        messages.success(request, f"{deleted} authenticator(s) of {person.get_username()} deleted; their sessions ended.")
        return HttpResponseRedirect(back)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Field names only: never a password or its hash.
        changed = sorted(f for f in form.changed_data if "password" not in f)
        operator_audit(request, action="user.change" if change else "user.create", target=obj.get_username(),
                       details={"fields": changed})

    def delete_model(self, request, obj):
        operator_audit(request, action="user.delete", target=obj.get_username())
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # The list's "delete selected" action deletes here, not through delete_model.
        for user in queryset:
            operator_audit(request, action="user.delete", target=user.get_username())
        super().delete_queryset(request, queryset)


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass
