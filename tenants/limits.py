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
    steps_per_instance: int  # steps (do, sleep, waitForEvent) one instance may have; at most MAX_STEPS_PER_INSTANCE
    http_timeout_seconds: float
    http_response_bytes: int
    webhook_calls_per_minute: int
    concurrent_instances: int
    creations_per_minute: int
    steps_per_month: int
    stored_bytes: int
    retention_days: int


# The most steps a plan may allow one instance (Cloudflare's configurable maximum).
MAX_STEPS_PER_INSTANCE = 25_000
# The most step.http calls of one advance a plan may let run at once (each is a worker thread).
MAX_HTTP_CONCURRENCY = 100


def limits_for(tenant) -> TenantLimits:
    merged = {**settings.TENANT_DEFAULT_LIMITS, **(tenant.limits or {})}
    return TenantLimits(**{f.name: merged[f.name] for f in fields(TenantLimits)})
