"""Plan limits: settings.TENANT_DEFAULT_LIMITS, overridden per tenant by Tenant.limits."""
from dataclasses import dataclass, fields

from django.conf import settings


@dataclass(frozen=True)
class TenantLimits:
    sandbox_memory_mb: int
    advance_time_seconds: float
    stack_kb: int
    log_bytes_per_advance: int
    http_calls_per_step: int
    http_concurrency: int  # step.http calls of one advance running at once (Promise.all)
    http_timeout_seconds: float
    http_response_bytes: int
    webhook_calls_per_minute: int
    concurrent_instances: int
    creations_per_minute: int
    steps_per_month: int
    stored_bytes: int
    retention_days: int


def limits_for(tenant) -> TenantLimits:
    merged = {**settings.TENANT_DEFAULT_LIMITS, **(tenant.limits or {})}
    return TenantLimits(**{f.name: merged[f.name] for f in fields(TenantLimits)})
