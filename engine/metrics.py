"""Prometheus metrics at /metrics, for staff sessions or `Authorization: Bearer $METRICS_TOKEN`.

Figures come from indexed queries (due_at, status); none scans the instance table unboundedly."""
import hmac

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse
from django.utils import timezone

from tenants.models import Usage

from .models import Instance


def allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())


def lines() -> list[str]:
    now = timezone.now()
    out = ["# HELP engine_instances Instances by status.", "# TYPE engine_instances gauge"]
    for row in Instance.objects.values("status").annotate(n=Count("pk")).order_by("status"):
        out.append(f'engine_instances{{status="{row["status"]}"}} {row["n"]}')
    due = Instance.objects.filter(due_at__lte=now)
    oldest = due.aggregate(m=Min("due_at"))["m"]
    out += [
        "# HELP engine_due_backlog Instances that need a worker now (queued, woken, or lease expired).",
        "# TYPE engine_due_backlog gauge", f"engine_due_backlog {due.count()}",
        "# HELP engine_due_oldest_seconds How long the oldest due instance has waited for a worker.",
        "# TYPE engine_due_oldest_seconds gauge",
        f"engine_due_oldest_seconds {(now - oldest).total_seconds() if oldest else 0:.3f}",
        "# HELP engine_timers_pending Sleeping, retrying or waiting instances with a future wake-up.",
        "# TYPE engine_timers_pending gauge",
        f"engine_timers_pending {Instance.objects.filter(status=Instance.Status.WAITING, due_at__gt=now).count()}",
        "# HELP tenant_steps_today Step attempts run today, per tenant (top 20).", "# TYPE tenant_steps_today gauge",
    ]
    for row in Usage.objects.filter(day=now.date()).select_related("tenant").order_by("-steps")[:20]:
        out.append(f'tenant_steps_today{{tenant="{row.tenant.slug}"}} {row.steps}')
    return out


def metrics(request):
    if not allowed(request):
        return HttpResponse("not found", status=404, content_type="text/plain")
    return HttpResponse("\n".join(lines()) + "\n", content_type="text/plain; version=0.0.4")
