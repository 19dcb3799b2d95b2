"""Getting due instances to a worker.

The database decides what has work (`Instance.due_at <= now`); dispatch only hurries it along:
- embedded mode: worker processes (`manage.py engine_worker`, started by `manage.py serve`) poll
  for due instances, so notify() does nothing;
- celery mode: notify() sends a task per instance after commit, and the pump (Celery beat or
  `manage.py engine_pump`) sends tasks for instances whose timer fired or whose lease expired.
A lost or duplicated message is harmless: advance() claims with a compare-and-set and skips an
instance another worker holds or that is no longer due.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import zip_longest
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from .models import Instance

log = logging.getLogger(__name__)

ADVANCE_TASK = "engine.tasks.advance_instance"  # sent by name (see send)
# A queued instance normally got its message at creation; the pump re-sends only after this long.
QUEUED_GRACE = timedelta(seconds=5)


_held = threading.local()


def notify(instance_ids: list[Any]) -> None:
    if settings.ENGINE_DISPATCH != "celery" or not instance_ids:
        return
    ids = [str(i) for i in instance_ids]
    held = getattr(_held, "ids", None)
    transaction.on_commit(lambda: held.extend(ids) if held is not None else send(ids))


def send(ids: list[str]) -> None:
    """After the commit: the work is saved, so a broker that is down costs only the pump's delay."""
    from .celery_app import app  # not at import: Celery costs ~150 ms, and embedded mode never sends

    try:
        with app.producer_or_acquire() as producer:  # one broker connection for all
            for i in ids:
                # By name: engine.tasks imports this module (the pump), so this one does not import it.
                app.send_task(ADVANCE_TASK, (i,), producer=producer)
    except Exception:
        log.warning("dispatch: %d task messages not sent; the pump will send them", len(ids), exc_info=True)


@contextmanager
def held_notifications():
    """Notifications committed inside are sent when the block ends, not at commit: the webhook
    committer answers its deliveries first (a message lost meanwhile is what the pump recovers)."""
    _held.ids = held = []
    try:
        yield
    finally:
        _held.ids = None
        if held:
            send(held)


def due_ids(*, now: datetime, limit: int = 50, per_tenant: int = 5) -> list[Any]:
    """Due instances (timer fired, lease expired, or queued), fair between tenants: the oldest few
    of each tenant with due work, interleaved, so a tenant's backlog of thousands cannot delay
    another tenant's new instance past one round. Tenants at their concurrency cap are skipped."""
    tenants = list(Instance.objects.filter(due_at__lte=now).order_by().values_list("tenant_id", flat=True).distinct()[:500])
    if len(tenants) <= 1:
        return list(Instance.objects.filter(due_at__lte=now).order_by("due_at").values_list("pk", flat=True)[:limit])
    lanes = []
    for tenant_id in tenants[:limit]:
        lanes.append(list(Instance.objects.filter(tenant_id=tenant_id, due_at__lte=now).order_by("due_at")
                          .values_list("pk", flat=True)[:per_tenant]))
    picked = [pk for row in zip_longest(*lanes) for pk in row if pk is not None]
    return picked[:limit]


def run_hooks(*, now: datetime) -> None:
    """Periodic work of other apps (schedule triggers, retention): settings.ENGINE_PUMP_HOOKS, each
    given now. A failing hook is logged and the others still run (and so does the dispatch after)."""
    for path in settings.ENGINE_PUMP_HOOKS:
        try:
            import_string(path)(now=now)
        except Exception:
            log.exception("pump hook %s failed", path)


def pump(*, now: datetime, limit: int = 1000) -> int:
    """Send a task for every due instance that may have no message in flight (celery mode)."""
    run_hooks(now=now)
    ids = [str(pk) for pk in (
        Instance.objects.filter(due_at__lte=now)
        .exclude(status=Instance.Status.QUEUED, due_at__gt=now - QUEUED_GRACE)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )]
    send(ids)
    return len(ids)
