"""The progress log: what happened to an instance, as rows the live view streams and replays.

Invariant: event ids increase per instance in commit order. `record` takes them from
Instance.last_event_id with an UPDATE inside the caller's transaction; that UPDATE holds the
instance row's lock (PostgreSQL) or the database write lock (SQLite) until commit, so a reader
that has seen id N never later finds a new id below N.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F

from .models import Instance, ProgressEvent

# Outputs in progress events are cut to this many characters; the step history holds the full value.
PREVIEW_CHARS = 2048


class EventType:
    """The progress event types (Cloudflare's `subscribe()` taxonomy), as plain string constants:
    the names the runner and services record (one place to spell them)."""

    WORKFLOW_QUEUED = "workflow_queued"
    WORKFLOW_STARTED = "workflow_started"
    WORKFLOW_PAUSED = "workflow_paused"
    WORKFLOW_WAITING = "workflow_waiting"
    WORKFLOW_COMPLETED = "workflow_completed"
    WORKFLOW_ERRORED = "workflow_errored"
    WORKFLOW_TERMINATED = "workflow_terminated"
    STEP_STARTED = "step_started"
    STEP_COMPLETED = "step_completed"
    STEP_ERRORED = "step_errored"
    ATTEMPT_STARTED = "attempt_started"
    ATTEMPT_ERRORED = "attempt_errored"
    SLEEP_STARTED = "sleep_started"
    SLEEP_COMPLETED = "sleep_completed"
    WAIT_STARTED = "wait_started"
    WAIT_COMPLETED = "wait_completed"
    WAIT_TIMED_OUT = "wait_timed_out"
    LOG = "log"
    # Saga rollbacks: the phase began (data: reason, error, steps in the order they are undone),
    # then per step: its rollback began, each attempt, and how it ended.
    ROLLBACKS_STARTED = "rollbacks_started"
    ROLLBACK_STARTED = "rollback_started"
    ROLLBACK_ATTEMPT_STARTED = "rollback_attempt_started"
    ROLLBACK_ATTEMPT_ERRORED = "rollback_attempt_errored"
    ROLLBACK_COMPLETED = "rollback_completed"
    ROLLBACK_FAILED = "rollback_failed"


TYPES = frozenset(v for k, v in vars(EventType).items() if k.isupper())


def preview(text: str | None) -> dict:
    """An output (JSON text) for an event: whole when short, else cut and flagged."""
    if text is None or len(text) <= PREVIEW_CHARS:
        return {"output": text}
    return {"output": text[:PREVIEW_CHARS], "truncated": True, "size": len(text)}


Item = tuple[str, str | None, int | None, dict | None]  # (type, step, attempt, data)


def record(
    *, instance_id: Any, tenant_id: int, items: list[Item], now: datetime, last_event_id: int | None = None,
    times: list[datetime | None] | None = None, **instance_updates: Any,
) -> int:
    """Append events for an instance (and apply `instance_updates` to its row); returns the last id.

    `last_event_id` is the row's current value when the caller already holds the row's lock and
    read it; without it the counter is incremented in SQL and read back. `times`: when each item
    happened (the host's wall clock), when not `now`."""
    assert transaction.get_connection().in_atomic_block, "progress events are written with the change they describe"
    qs = Instance.objects.filter(pk=instance_id)
    instance_pk = Instance._meta.pk.get_db_prep_value(instance_id, connection)
    if items:
        instance_updates["last_event_id"] = (
            F("last_event_id") + len(items) if last_event_id is None else last_event_id + len(items)
        )
    if instance_updates:
        qs.update(**instance_updates)
    if last_event_id is None:
        last = qs.values_list("last_event_id", flat=True).get()
    else:
        last = last_event_id + len(items)
    insert(tenant_id=tenant_id, now=now, times=times,
           rows=[(instance_pk, last - len(items) + 1 + i, item) for i, item in enumerate(items)])
    if items:
        notify_on_commit([instance_id])
    return last


def notify_on_commit(instance_ids: list[Any], *, workflow_id: Any = None) -> None:
    """After the commit, tell live consumers these instances have new rows (engine.live: a hint
    only, by Redis or a datagram; the consumers read the rows from the database)."""
    from . import live

    transaction.on_commit(lambda: [live.publish(i, workflow_id=workflow_id) for i in instance_ids])


# The writing transaction's id (PostgreSQL): the workflow stream reads rows in (txid, id) order, and
# only below the oldest transaction still running, so a row committed late is never skipped
# (engine.consumers.WorkflowProgressConsumer). SQLite has one writer: ids are in commit order.
TXID_SQL = {"postgresql": "pg_current_xact_id()::text::bigint"}


def insert(*, tenant_id: int, now: datetime, rows: list[tuple[Any, int, Item]], times: list[datetime] | None = None) -> None:
    """Insert events (instance pk as stored, event id, item) whose ids the caller allocated.
    `times`, when given, is each item's time (when it happened, by the host's clock), else `now`."""
    if not rows:
        return
    # Raw executemany: the ORM's per-object work costs more than the insert (30+ rows per instance).
    adapt_time = connection.ops.adapt_datetimefield_value
    created = adapt_time(now)
    at = [created] * len(rows) if times is None else [adapt_time(t or now) for t in times]
    adapt = connection.ops.adapt_json_value
    txid = TXID_SQL.get(connection.vendor, "0")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {ProgressEvent._meta.db_table} "
            "(tenant_id, instance_id, event_id, type, step, attempt, data, created_at, txid) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {txid})",
            [
                (tenant_id, instance_pk, event_id, type_, step, attempt, None if data is None else adapt(data, None), at[n])
                for n, (instance_pk, event_id, (type_, step, attempt, data)) in enumerate(rows)
            ],
        )
