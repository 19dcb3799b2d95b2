"""Prometheus metrics at /metrics, for staff sessions or `Authorization: Bearer $METRICS_TOKEN`.

The figures are the health dashboard's (console.dashboard.figures), so both read the same bounded,
indexed queries: none scans the instance table unboundedly (large counts are capped)."""
import hmac

from django.conf import settings
from django.http import HttpResponse

from tenants.models import Usage

from .dashboard import figures


def allowed(request) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode())


def label(value) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Out:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(self, name: str, help: str, samples, kind: str = "gauge") -> None:
        """samples: a number, or (labels dict, number) pairs."""
        self.lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
        if not isinstance(samples, list):
            samples = [({}, samples)]
        for labels, value in samples:
            text = ",".join(f'{k}="{label(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")


def lines() -> list[str]:
    f = figures()
    out = Out()
    out.metric("engine_instances", "Instances by status (each count capped at 100000).",
               [({"status": s}, n) for s, n in sorted(f.statuses.items())])
    out.metric("engine_due_backlog", "Instances that need a worker now (queued, woken, or lease expired); capped at 100000.",
               f.backlog)
    out.metric("engine_due_oldest_seconds", "How long the oldest due instance has waited for a worker.",
               f"{f.backlog_oldest_seconds:.3f}")
    out.metric("engine_leases_expired", "Running instances whose worker's lease ran out (awaiting recovery).",
               f.leases_expired)
    out.metric("engine_timers_pending", "Sleeping, retrying or waiting instances with a future wake-up.",
               f.timers_pending)
    out.metric("engine_timers_due_next_hour", "Timers that fire within the next hour.", f.timers_next_hour)
    out.metric("engine_wake_lag_seconds", "How late the oldest fired timer is in being picked up.",
               f"{f.wake_lag_seconds:.3f}")
    for key, help in (("advances", "Instance advances"), ("steps", "Step attempts started"),
                      ("recoveries", "Expired leases recovered (their worker died)"),
                      ("lost_attempts", "Attempts failed with WorkerLostError"),
                      ("purged", "Finished instances deleted by retention")):
        out.metric(f"engine_{key}_last_hour", f"{help} in the last hour, all workers.", f.last_hour[key])
    out.metric("engine_workers", "Engine worker processes with a recent heartbeat, by mode.",
               [({"mode": m}, n) for m, n in f.workers_alive.items()])
    live = [w for w in f.workers if w.alive]
    per_worker = (
        ("engine_worker_last_seen_seconds", "Seconds since the worker's last heartbeat.", lambda w: f"{w.age_seconds:.1f}"),
        ("engine_worker_instances_advanced", "Instances the worker advanced since it started.", lambda w: w.instances_advanced),
        ("engine_worker_steps", "Step attempts the worker started since it started.", lambda w: w.steps),
        ("engine_worker_rss_bytes", "The worker process's resident memory.", lambda w: w.rss_bytes),
    )
    for name, help, value in per_worker:
        out.metric(name, help, [({"worker": w.name, "mode": w.mode}, value(w)) for w in live])
    s = f.sandbox
    out.metric("engine_sandbox_programs_cached", "Programs in the live workers' program caches.", s["programs_cached"])
    out.metric("engine_sandbox_program_cache_bytes", "Size of the cached program texts.", s["program_cache_bytes"])
    out.metric("engine_sandbox_program_cache_hits", "Program cache hits (live workers, since they started).", s["program_hits"])
    out.metric("engine_sandbox_program_cache_misses", "Program cache misses (live workers).", s["program_misses"])
    out.metric("engine_sandbox_program_cache_evictions", "Program cache evictions (live workers).", s["program_evictions"])
    out.metric("engine_sandbox_contexts_ready", "Fresh sandbox contexts pooled, ready for the next advance.", s["contexts_ready"])
    out.metric("engine_sandbox_context_pool_hit_rate", "Share of advances that took a pooled context.",
               s["context_hit_rate"] if s["context_hit_rate"] is not None else "NaN")
    out.metric("tenant_steps_month", "Step attempts run this month, per tenant (top 10).",
               [({"tenant": t["slug"]}, t["steps"]) for t in f.top_tenants])
    today = Usage.objects.filter(day=f.now.date()).select_related("tenant").order_by("-steps")[:20]
    out.metric("tenant_steps_today", "Step attempts run today, per tenant (top 20).",
               [({"tenant": row.tenant.slug}, row.steps) for row in today])
    return out.lines


def metrics(request):
    if not allowed(request):
        return HttpResponse("not found", status=404, content_type="text/plain")
    return HttpResponse("\n".join(lines()) + "\n", content_type="text/plain; version=0.0.4")
