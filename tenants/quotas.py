"""Plan quotas checked when instances are created: creations per minute (429 + Retry-After),
steps per month and stored bytes (403). Counters: the cache for the per-minute window (losing it
only loosens the limit for a minute), tenants.Usage for the month.

Windows are minutes of the caller's clock (`now`): the engine passes its injectable clock, so a
test never sees a minute boundary fall between two calls."""
from datetime import datetime

from django.core.cache import cache
from django.db.models import Sum
from django.utils import timezone

from .errors import DomainError
from .limits import limits_for
from .models import Usage


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"

    def __init__(self, field: str, message: str, retry_after: int):
        super().__init__(field, message)
        self.retry_after = retry_after


class QuotaExceeded(DomainError):
    status = 403
    code = "quota_exceeded"


def count_in_window(key: str, amount: int = 1, *, now: datetime | None = None) -> int:
    """Add `amount` to this minute's counter of `key`; returns the minute's total."""
    window_key = f"{key}:{window_of(now or timezone.now())}"
    cache.add(window_key, 0, timeout=120)
    try:
        return cache.incr(window_key, amount)
    except ValueError:  # evicted between add and incr
        cache.set(window_key, amount, timeout=120)
        return amount


def window_of(now: datetime) -> int:
    return int(now.timestamp() // 60)


def retry_after(now: datetime) -> int:
    """Seconds until the next minute's window (1 to 60)."""
    return 60 - int(now.timestamp() % 60)


def check_creations(tenant, count: int, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    plan = limits_for(tenant)
    used, stored = usage_totals(tenant)
    if used >= plan.steps_per_month:
        raise QuotaExceeded("instances", f"this month's {plan.steps_per_month} steps are used up")
    if stored >= plan.stored_bytes:
        raise QuotaExceeded("instances", f"the plan's {plan.stored_bytes} bytes of storage are used up")
    if count_in_window(f"creations:{tenant.pk}", count, now=now) > plan.creations_per_minute:
        count_in_window(f"creations:{tenant.pk}", -count, now=now)  # a refused creation uses none of the window
        raise RateLimited("instances", f"over {plan.creations_per_minute} instance creations a minute",
                          retry_after=retry_after(now))


def usage_totals(tenant) -> tuple[int, int]:
    """(steps this month, bytes stored), cached for 10 s: the sums are not worth a query per creation."""
    key = f"usage-totals:{tenant.pk}"
    totals = cache.get(key)
    if totals is None:
        month = timezone.now().date().replace(day=1)
        rows = Usage.objects.filter(tenant=tenant)
        totals = (rows.filter(day__gte=month).aggregate(s=Sum("steps"))["s"] or 0,
                  rows.aggregate(b=Sum("bytes_stored"))["b"] or 0)
        cache.set(key, totals, timeout=10)
    return totals
