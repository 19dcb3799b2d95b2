"""Retention: finished instances and everything recorded about them are deleted once they have been
finished for longer than their tenant's `retention_days` plan limit (tenants.limits).

Invariants:
- Only finished instances (complete, errored, terminated) are deleted, and that is checked again
  inside the deleting transaction: an instance restarted since it was selected is kept.
- Nothing finished less than DEDUP_WINDOW (24 h) ago is deleted, whatever the plan says: a webhook
  delivery id is the instance's key (triggers.webhooks), so the instance row *is* the delivery's
  deduplication record, and a retried delivery must still find it.
- Deletes run in short transactions of at most ENGINE_RETENTION_BATCH instances, children first
  (attempts, step records, events, progress events, then the instances), so the engine's own
  commits (SQLite has one writer) wait for at most one batch; a run stops after a time budget.
- The bytes the deleted outputs had stored leave the tenant's stored-bytes total (a negative
  bytes_stored on today's Usage row), so the storage quota counts what is kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.db.models.functions import Length

from tenants.limits import limits_for
from tenants.models import Tenant
from tenants.usage import usage_add

from .heartbeat import activity_add
from .models import Attempt, Event, Instance, ProgressEvent, Snapshot, StepRecord

DEDUP_WINDOW = timedelta(hours=24)
TENANTS_PER_RUN = 500  # tenants looked at per run; the next run goes on from where this one stopped


@dataclass
class Outcome:
    instances: int = 0
    batches: int = 0
    tenants: int = 0


_last_run: float | None = None  # monotonic time of this process's last run (the hook's throttle)
_cursor = 0  # the last tenant pk looked at


def retention_hook(*, now: datetime) -> None:
    """A pump hook (settings.ENGINE_PUMP_HOOKS): the pump and one embedded worker (slot 0)
    call it every engine.dispatch.HOOKS_EVERY; it runs at most every ENGINE_RETENTION_INTERVAL_SECONDS in a process. Several
    processes running it at once is safe (they skip or re-check what the other deletes)."""
    global _last_run
    # The first call runs at once (the monotonic clock starts at boot: an hour after it is no mark).
    if _last_run is not None and time.monotonic() - _last_run < settings.ENGINE_RETENTION_INTERVAL_SECONDS:
        return
    _last_run = time.monotonic()
    retention_run(now=now)


# Longer retentions mean "keep forever": a cutoff further back would leave datetime's range.
MAX_RETENTION = timedelta(days=100 * 365)


def cutoff_for(tenant: Tenant, *, now: datetime) -> datetime:
    return now - max(timedelta(days=min(limits_for(tenant).retention_days, MAX_RETENTION.days)), DEDUP_WINDOW)


def retention_run(*, now: datetime, batch: int | None = None, budget_seconds: float | None = None) -> Outcome:
    """Delete expired finished instances, tenant after tenant (from where the previous run
    stopped), until the tenants looked at have none left or the time budget is spent."""
    global _cursor
    batch = batch or settings.ENGINE_RETENTION_BATCH
    budget = settings.ENGINE_RETENTION_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    outcome = Outcome()
    tenants = list(Tenant.objects.filter(pk__gt=_cursor).order_by("pk").only("pk", "limits")[:TENANTS_PER_RUN])
    for tenant in tenants:
        cutoff = cutoff_for(tenant, now=now)
        while True:
            deleted = delete_batch(tenant=tenant, cutoff=cutoff, now=now, batch=batch)
            outcome.instances += deleted
            outcome.batches += 1 if deleted else 0
            if deleted < batch or time.monotonic() >= deadline:
                break
        outcome.tenants += 1
        # A tenant with more to delete is where the next run starts again.
        _cursor = tenant.pk if deleted < batch else tenant.pk - 1
        if time.monotonic() >= deadline:
            break
    else:
        if len(tenants) < TENANTS_PER_RUN:
            _cursor = 0  # every tenant looked at: the next run starts from the first again
    if outcome.instances:
        activity_add(purged=outcome.instances)
    return outcome


def expired(*, tenant: Tenant, cutoff: datetime):
    """The tenant's instances that finished before `cutoff`. created_at <= finished_at, so the
    created_at bound is implied; it lets the (tenant, status, created_at) index bound the scan."""
    return Instance.objects.filter(tenant_id=tenant.pk, status__in=Instance.FINISHED, created_at__lt=cutoff,
                                   finished_at__lt=cutoff)


def delete_batch(*, tenant: Tenant, cutoff: datetime, now: datetime, batch: int) -> int:
    """Delete up to `batch` of the tenant's expired instances with their rows, in one transaction."""
    ids = list(expired(tenant=tenant, cutoff=cutoff).order_by().values_list("pk", flat=True)[:batch])
    if not ids:
        return 0
    with transaction.atomic():
        # Again under the lock: a restart since the selection made the instance queued (kept).
        # skip_locked: an instance another process is deleting (or restarting) is left to it.
        ids = list(expired(tenant=tenant, cutoff=cutoff).filter(pk__in=ids).select_for_update(skip_locked=True)
                   .values_list("pk", flat=True))
        if not ids:
            return 0
        steps = StepRecord.objects.filter(instance_id__in=ids)
        freed = (steps.aggregate(b=Sum(Length("output")))["b"] or 0) + (
            Instance.objects.filter(pk__in=ids).aggregate(b=Sum(Length("output")))["b"] or 0)
        # Children first, each one DELETE ... WHERE <indexed column> IN (...): Django's cascade
        # would load every step row (outputs up to 1 MiB each) into memory to find their children.
        Attempt.objects.filter(step_id__in=steps.values("pk")).delete()  # a leaf table: one statement
        Event.objects.filter(instance_id__in=ids).delete()
        ProgressEvent.objects.filter(instance_id__in=ids).delete()
        raw_delete(StepRecord, "instance_id", ids)
        raw_delete(Snapshot, "instance_id", ids)  # none once finished, unless terminated while waiting
        Instance.objects.filter(parent_id__in=ids).update(parent=None)  # children outlive their parent
        raw_delete(Instance, "id", ids)
        if freed:
            usage_add(tenant_id=tenant.pk, day=now.date(), bytes_stored=-freed)
    return len(ids)


def raw_delete(model, column: str, ids: list[Any]) -> None:
    """DELETE with no cascade collection: the caller has already deleted the children."""
    prep = Instance._meta.pk.get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {column} IN ({', '.join(['%s'] * len(ids))})",
                       [prep(pk, connection) for pk in ids])
