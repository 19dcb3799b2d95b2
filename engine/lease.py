"""Claim and lease: which worker may advance an instance, and until when.

Invariants:
- A claim is a compare-and-set on `due_at` (only a due, active instance can be claimed) that also
  raises the instance's fencing token (`fence`); the claimer keeps the token, and every commit of
  its advance names it, so once another worker has claimed the instance the old one commits nothing.
- A worker also keeps its lease on its own monotonic clock (`Lease`): before a capability call
  leaves the worker, the lease must still be safely ahead, or the call is refused. A paused
  worker (SIGSTOP, a long GC, a VM migration) therefore causes no side effect after its lease may
  have passed, even before it reaches the database again.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from tenants.limits import limits_for

from . import progress
from .counters import COUNTERS
from .models import Instance

S = Instance.Status
E = progress.EventType
ACTIVE = (S.QUEUED, S.RUNNING, S.WAITING, S.WAITING_FOR_PAUSE)
# Leases that expired in a row before the instance is failed instead of recovered once more.
MAX_RECOVERIES = 10
# A capability call needs this share of the lease still ahead on the worker's clock: the other
# workers judge expiry by the database's due_at, written from wall clocks that may differ a little.
LEASE_MARGIN = 0.2


class LeaseLost(Exception):
    """The instance was terminated, restarted or taken over while this worker ran it."""


class Lease:
    """The worker's own view of its lease: renewed when a commit extends `due_at`."""

    def __init__(self, since: float | None = None) -> None:
        """`since`: the monotonic time taken just before the claim that began the lease."""
        self.seconds = float(settings.ENGINE_LEASE_SECONDS)
        self.until = (time.monotonic() if since is None else since) + self.seconds

    def renewed(self, since: float) -> None:
        """A commit that began at monotonic time `since` wrote due_at = now + the lease."""
        self.until = since + self.seconds

    def check(self) -> None:
        """Refuse (LeaseLost) once the lease may have expired."""
        if time.monotonic() >= self.until - self.seconds * LEASE_MARGIN:
            raise LeaseLost()


def claim(instance_id: Any, *, worker: str, now: datetime) -> Instance | None:
    """Take the lease of a due instance (compare-and-set on due_at), or None if another worker has it.

    The claim itself writes only the lease; the instance becomes `running` (and gets its
    workflow_started event) with the advance's first commit, which saves a transaction per advance.
    """
    lease_until = now + timedelta(seconds=settings.ENGINE_LEASE_SECONDS)
    taken = Instance.objects.filter(pk=instance_id, due_at__lte=now, status__in=ACTIVE).update(
        lease_owner=worker, due_at=lease_until, fence=F("fence") + 1
    )
    if not taken:
        return None
    instance = (
        Instance.objects.select_related("version", "tenant", "workflow")
        .defer("version__program", "version__graph", "workflow__draft").get(pk=instance_id)
    )
    if at_concurrency_cap(instance, now=now):
        # Give the lease back: it stays due, and runs when one of its tenant's instances releases.
        Instance.objects.filter(pk=instance.pk, lease_owner=worker, fence=instance.fence).update(lease_owner="", due_at=now)
        return None
    if instance.status in (S.RUNNING, S.WAITING_FOR_PAUSE) and instance.lease_owner == worker:
        return recover(instance, now=now)
    return instance


def at_concurrency_cap(instance: Instance, *, now: datetime) -> bool:
    """Whether the instance's tenant already runs as many other instances as its plan allows, or
    its workflow as many as its own `concurrency.limit` (both hold; excess instances wait their
    turn: they are never refused). A raw count each on the claim path, both a range of the partial
    index of leased instances (instance_leased): the tenant's live leases, which its cap bounds.

    Two claims racing for the last slot each count the other's lease (each claim commits before
    it counts), so both may give their lease back, never both keep it."""
    if _leased_others(instance, "", limits_for(instance.tenant).concurrent_instances, now):
        return True
    limit = instance.workflow.concurrency_limit
    return limit is not None and _leased_others(instance, " AND workflow_id = %s", limit, now, instance.workflow_id)


def _leased_others(instance: Instance, where: str, cap: int, now: datetime, *params: Any) -> bool:
    table = Instance._meta.db_table
    # SQLite would read a workflow's instances by instance_workflow_created: told the index (an
    # error, not a slow plan, if it ever could not). PostgreSQL picks the tiny partial index.
    indexed = " INDEXED BY instance_leased" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table}{indexed} WHERE tenant_id = %s{where} AND NOT (lease_owner = '') "
            f"AND due_at > %s AND id <> %s LIMIT %s) AS leased",
            [instance.tenant_id, *params, connection.ops.adapt_datetimefield_value(now),
             Instance._meta.pk.get_db_prep_value(instance.pk, connection), cap],
        )
        return cursor.fetchone()[0] >= cap


def recover(instance: Instance, *, now: datetime) -> Instance | None:
    """The previous lease expired while the instance ran: its worker died. Recovery is a replay."""
    items: list[progress.Item] = []
    instance.recoveries += 1
    COUNTERS.recoveries += 1
    updates: dict[str, Any] = {"recoveries": instance.recoveries}
    if instance.recoveries > MAX_RECOVERIES:
        error = {"name": "WorkerLostError", "message": f"the worker running this instance stopped {MAX_RECOVERIES} times in a row"}
        updates.update(status=S.ERRORED, error=error, due_at=None, lease_owner="", finished_at=now)
        items.append((E.WORKFLOW_ERRORED, None, None, {"error": error}))
    elif instance.status == S.WAITING_FOR_PAUSE:
        updates.update(status=S.PAUSED, due_at=None, lease_owner="")
        items.append((E.WORKFLOW_PAUSED, None, None, None))
    with transaction.atomic():
        progress.record(instance_id=instance.pk, tenant_id=instance.tenant_id, items=items, now=now, **updates)
    return None if items else instance
