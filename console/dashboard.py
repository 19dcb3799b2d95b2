"""The health dashboard: the operator console's home page (django-unfold's DASHBOARD_CALLBACK) and
the same figures for /metrics (console.metrics).

Invariants:
- Every query is bounded by an index and a LIMIT: counts of possibly large sets (statuses, backlog,
  timers) are capped at COUNT_CAP (shown as "100,000+"), the charts read at most 60 ActivityMinute
  rows, heartbeats and tenants are limited. The page stays well under 300 ms with
  100,000 instances (`manage.py bench console` measures it).
- Instance figures use the engine's clock (the one due_at and finished_at were written with);
  heartbeat and activity figures use the wall clock they were written with.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Sum
from django.utils import timezone

from tenants.models import Usage

from engine import clock
from engine.models import ActivityMinute, Instance, WorkerHeartbeat

COUNT_CAP = 100_000
WORKERS_SHOWN = 50
TOP_TENANTS = 10
S = Instance.Status


def capped_count(queryset, cap: int = COUNT_CAP) -> int:
    """COUNT(*) over at most `cap` rows (SELECT COUNT(*) FROM (... LIMIT cap)): bounded work."""
    return queryset.order_by()[:cap].count()


def seconds_since(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment else 0.0


@dataclass
class Figures:
    now: datetime
    statuses: dict[str, int]
    backlog: int
    backlog_oldest_seconds: float
    leases_expired: int
    timers_pending: int
    timers_next_hour: int
    wake_lag_seconds: float
    workers: list[WorkerHeartbeat]
    workers_alive: dict[str, int]
    sandbox: dict[str, float | int | None]
    minutes: list[dict]  # the last 60 minutes, oldest first: {minute, advances, steps, ...}
    last_hour: dict[str, int]
    top_tenants: list[dict]
    heartbeat_stale_after: float = field(default=0.0)


def instance_figures(now: datetime) -> dict:
    # One capped count per status, each a range of the (status, created_at) index: with millions of
    # finished instances the page reads at most COUNT_CAP index entries per status, where a
    # GROUP BY would read them all.
    statuses = {s: capped_count(Instance.objects.filter(status=s)) for s in S.values}
    due = Instance.objects.filter(due_at__lte=now)
    oldest = due.order_by("due_at").values_list("due_at", flat=True).first()
    # A timer that fired and is still due: how late the engine is waking sleepers.
    lag_from = due.filter(status=S.WAITING).order_by("due_at").values_list("due_at", flat=True).first()
    timers = Instance.objects.filter(status=S.WAITING, due_at__gt=now)
    return {
        "statuses": statuses,
        "backlog": capped_count(due),
        "backlog_oldest_seconds": seconds_since(oldest, now),
        # Running instances whose lease ran out: their worker died; the next claim recovers them.
        "leases_expired": capped_count(due.exclude(lease_owner="")),
        "timers_pending": capped_count(timers),
        "timers_next_hour": capped_count(timers.filter(due_at__lte=now + timedelta(hours=1))),
        "wake_lag_seconds": seconds_since(lag_from, now),
    }


def worker_figures(wall: datetime) -> dict:
    """The newest WORKERS_SHOWN heartbeats for the table; the totals over every live worker (the
    table is small: rows of workers gone for ENGINE_HEARTBEAT_PRUNE_SECONDS are deleted)."""
    stale_after = 3 * settings.ENGINE_HEARTBEAT_SECONDS
    workers = list(WorkerHeartbeat.objects.order_by("-last_seen")[:WORKERS_SHOWN])
    for w in workers:
        w.age_seconds = seconds_since(w.last_seen, wall)
        w.alive = w.age_seconds <= stale_after
        lookups = w.program_hits + w.program_misses
        w.program_hit_rate = round(w.program_hits / lookups, 3) if lookups else None
        takes = w.context_hits + w.context_misses
        w.context_hit_rate = round(w.context_hits / takes, 3) if takes else None
    live = WorkerHeartbeat.objects.filter(last_seen__gte=wall - timedelta(seconds=stale_after))
    by_mode = dict(live.order_by().values_list("mode").annotate(n=Count("pk")))
    fields = ("programs_cached", "program_cache_bytes", "program_hits", "program_misses", "program_evictions",
              "contexts_ready", "context_hits", "context_misses", "rss_bytes")
    t = {k: v or 0 for k, v in live.aggregate(**{k: Sum(k) for k in fields}).items()}
    lookups = t["program_hits"] + t["program_misses"]
    takes = t["context_hits"] + t["context_misses"]
    return {
        "workers": workers,
        "workers_alive": {mode: by_mode.get(mode, 0) for mode in WorkerHeartbeat.Mode.values},
        "heartbeat_stale_after": stale_after,
        "sandbox": {
            **{k: t[k] for k in ("programs_cached", "program_cache_bytes", "program_hits", "program_misses",
                                 "program_evictions", "contexts_ready", "rss_bytes")},
            "program_hit_rate": round(t["program_hits"] / lookups, 3) if lookups else None,
            "context_hit_rate": round(t["context_hits"] / takes, 3) if takes else None,
        },
    }


def activity_figures(wall: datetime) -> dict:
    """Per-minute activity over the last hour (60 points, zeros where nothing happened)."""
    first = (wall - timedelta(minutes=59)).replace(second=0, microsecond=0)
    rows = {r.minute: r for r in ActivityMinute.objects.filter(minute__gte=first).order_by("minute")[:60]}
    minutes = []
    for i in range(60):
        at = first + timedelta(minutes=i)
        r = rows.get(at)
        minutes.append({"minute": at, "advances": r.advances if r else 0, "steps": r.steps if r else 0,
                        "recoveries": r.recoveries if r else 0, "lost_attempts": r.lost_attempts if r else 0,
                        "purged": r.purged if r else 0})
    last_hour = {k: sum(m[k] for m in minutes) for k in ("advances", "steps", "recoveries", "lost_attempts", "purged")}
    return {"minutes": minutes, "last_hour": last_hour}


def top_tenants(today) -> list[dict]:
    """Tenants using the most steps this month (Usage has one row per tenant and day)."""
    month = today.replace(day=1)
    rows = (Usage.objects.filter(day__gte=month).values("tenant_id", "tenant__slug")
            .annotate(steps=Sum("steps"), cpu_ms=Sum("cpu_ms"), http_calls=Sum("http_calls"))
            .order_by("-steps")[:TOP_TENANTS])
    return [{"id": r["tenant_id"], "slug": r["tenant__slug"], "steps": r["steps"], "cpu_ms": r["cpu_ms"],
             "http_calls": r["http_calls"]} for r in rows]


def figures() -> Figures:
    now, wall = clock.now(), timezone.now()
    return Figures(now=now, **instance_figures(now), **worker_figures(wall), **activity_figures(wall),
                   top_tenants=top_tenants(now.date()))


# ---- the console's home page ------------------------------------------------------------------

def chart(labels: list[str], datasets: list[dict]) -> str:
    return json.dumps({"labels": labels, "datasets": datasets})


def chart_options(*, legend: bool) -> str:
    """Chart.js options: unfold's defaults hide the value axis, which operators want to read."""
    return json.dumps({
        "animation": False,
        "plugins": {"legend": {"display": legend, "position": "bottom", "align": "start"}},
        "scales": {
            "x": {"grid": {"display": False}, "ticks": {"maxTicksLimit": 12, "autoSkip": True}},
            "y": {"beginAtZero": True, "grid": {}, "ticks": {"precision": 0, "maxTicksLimit": 5}},
        },
    })


def size(n: float) -> str:
    if n < 1024:
        return f"{n:,.0f} B"
    return f"{n / 1024:,.1f} KiB" if n < 2**20 else f"{n / 2**20:,.1f} MiB"


def duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def number(n: int, cap: int | None = COUNT_CAP) -> str:
    return f"{n:,}+" if cap is not None and n >= cap else f"{n:,}"


def rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def dashboard_callback(request, context: dict) -> dict:
    """django-unfold calls this for /admin/ (staff only: the admin site checks before the view)."""
    f = figures()
    labels = [m["minute"].strftime("%H:%M") for m in f.minutes]
    order = list(S.values)
    alive = sum(f.workers_alive.values())
    hour = f.last_hour
    cards = [
        {"title": "Runnable backlog", "value": number(f.backlog),
         "detail": f"oldest waiting {duration(f.backlog_oldest_seconds)}" if f.backlog else "nothing waiting for a worker",
         "variant": "danger" if f.backlog_oldest_seconds > 60 else ""},
        {"title": "Timers", "value": number(f.timers_pending),
         "detail": f"{number(f.timers_next_hour)} due within the hour; wake lag {duration(f.wake_lag_seconds)}",
         "variant": "danger" if f.wake_lag_seconds > 60 else ""},
        {"title": "Engine workers", "value": str(alive),
         "detail": ", ".join(f"{n} {mode}" for mode, n in f.workers_alive.items() if n) or "no heartbeat in the last "
                   f"{duration(f.heartbeat_stale_after)}",
         "variant": "" if alive else "danger"},
        {"title": "Steps, last hour", "value": number(hour["steps"], None),
         "detail": f"{hour['steps'] / 60:,.1f} a minute; {number(hour['advances'], None)} advances"},
        {"title": "Recovery actions, last hour", "value": number(hour["recoveries"] + hour["lost_attempts"], None),
         "detail": f"{hour['recoveries']} lost leases recovered, {hour['lost_attempts']} WorkerLostError attempts; "
                   f"{number(f.leases_expired)} leases expired now",
         "variant": "danger" if hour["recoveries"] or f.leases_expired else ""},
        {"title": "Retention, last hour", "value": number(hour["purged"], None),
         "detail": "finished instances deleted with their steps"},
    ]
    sandbox = f.sandbox
    context["dashboard"] = {
        "f": f,
        "cards": cards,
        "statuses": [(S(s).label, number(f.statuses[s])) for s in order],
        "total": number(sum(f.statuses.values()), COUNT_CAP if max(f.statuses.values()) >= COUNT_CAP else None),
        "sandbox": [
            ("Programs cached", number(sandbox["programs_cached"], None)),
            ("Program cache size", size(sandbox["program_cache_bytes"])),
            ("Program cache hit rate", rate(sandbox["program_hit_rate"])),
            ("Program cache evictions", number(sandbox["program_evictions"], None)),
            ("Fresh contexts ready", number(sandbox["contexts_ready"], None)),
            ("Context pool hit rate", rate(sandbox["context_hit_rate"])),
            ("Workers' resident memory", size(sandbox["rss_bytes"])),
        ],
        "workers": [{
            "w": w, "alive": w.alive, "seen": duration(w.age_seconds) + " ago",
            "advanced": number(w.instances_advanced, None), "steps": number(w.steps, None),
            "programs": f"{w.programs_cached} ({rate(w.program_hit_rate)} hits, {w.program_evictions} evicted)",
            "contexts": rate(w.context_hit_rate), "rss": size(w.rss_bytes),
        } for w in f.workers],
        "tenants": [{**t, "steps": number(t["steps"], None), "cpu": f"{t['cpu_ms'] / 1000:,.1f} s",
                     "http": number(t["http_calls"], None)} for t in f.top_tenants],
        "options": chart_options(legend=False),
        "options_legend": chart_options(legend=True),
        "steps_chart": chart(labels, [
            {"label": "Steps", "data": [m["steps"] for m in f.minutes], "borderColor": "var(--color-primary-600)",
             "backgroundColor": "var(--color-primary-600)", "pointRadius": 0, "tension": 0.3},
        ]),
        "advances_chart": chart(labels, [
            {"label": "Advances", "data": [m["advances"] for m in f.minutes], "backgroundColor": "var(--color-primary-400)"},
            {"label": "Recoveries", "data": [m["recoveries"] + m["lost_attempts"] for m in f.minutes],
             "backgroundColor": "#dc2626"},
        ]),
        "status_chart": chart([S(s).label for s in order], [
            {"label": "Instances", "data": [f.statuses[s] for s in order], "backgroundColor": "var(--color-primary-600)"},
        ]),
    }
    return context
