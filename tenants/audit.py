"""The audit log: one row per administrative action, written with the action's own transaction
when there is one. Never holds secret values: only names and ids."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from .models import AuditEntry


def actor_of(principal) -> str:
    if getattr(principal, "api_key", None) is not None:
        return f"key:{principal.api_key.prefix}"
    user = getattr(principal, "user", None)
    return user.get_username() if user is not None else "system"


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def audit_record(*, action: str, actor: str, tenant=None, target: str = "", ip: str | None = None,
                 details: dict[str, Any] | None = None) -> AuditEntry:
    return AuditEntry.objects.create(tenant=tenant, actor=actor[:150], action=action, target=str(target)[:256],
                                     ip=ip, details=details)


def audit_from_request(request, action: str, target: str = "", details: dict | None = None) -> AuditEntry:
    principal = request.auth
    return audit_record(action=action, actor=actor_of(principal), tenant=principal.tenant, target=target,
                        ip=client_ip(request), details=details)


def audit_purge(*, now=None, batch: int = 1000) -> int:
    """Delete entries older than the retention period, a batch at a time (a pump hook)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    ids = list(AuditEntry.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch])
    return AuditEntry.objects.filter(pk__in=ids).delete()[0] if ids else 0
