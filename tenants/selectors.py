"""Reads on tenants, people, keys and usage for the API. Every read is scoped by the tenant (or by
the person) it is asked for: nothing here returns another tenant's rows."""
from __future__ import annotations

from datetime import date

from django.db.models import QuerySet

from .models import ApiKey, Membership, Tenant, Usage

USAGE_DAYS_MAX = 400  # a page of daily usage rows: more than a year


def tenant_slugs_of(*, user) -> list[str]:
    """The slugs of the tenants the person is a member of, in order."""
    return list(Membership.objects.filter(user=user).values_list("tenant__slug", flat=True).order_by("tenant__slug"))


def is_member(*, user, tenant_slug: str) -> bool:
    return Membership.objects.filter(user=user, tenant__slug=tenant_slug).exists()


def members_of(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")


def api_keys_of(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at")


def usage_of(*, tenant: Tenant, since: date | None = None, until: date | None = None) -> list[Usage]:
    """The tenant's daily usage rows from `since` to `until` (inclusive), oldest first."""
    rows = Usage.objects.filter(tenant=tenant).order_by("day")
    if since:
        rows = rows.filter(day__gte=since)
    if until:
        rows = rows.filter(day__lte=until)
    return list(rows[:USAGE_DAYS_MAX])
