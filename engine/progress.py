"""The progress log: what happened to an instance, as rows the live view streams and replays.

Invariant: event ids increase per instance in commit order. `record` takes them from
Instance.last_event_id with an UPDATE inside the caller's transaction; that UPDATE holds the
instance row's lock (PostgreSQL) or the database write lock (SQLite) until commit, so a reader
that has seen id N never later finds a new id below N.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
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


TYPES = frozenset(v for k, v in vars(EventType).items() if k.isupper())


def preview(text: str | None) -> dict:
    """An output (JSON text) for an event: whole when short, else cut and flagged."""
    if text is None or len(text) <= PREVIEW_CHARS:
        return {"output": text}
    return {"output": text[:PREVIEW_CHARS], "truncated": True, "size": len(text)}


Item = tuple[str, str | None, int | None, dict | None]  # (type, step, attempt, data)


def record(
    *, instance_id: Any, tenant_id: int, items: list[Item], now: datetime, last_event_id: int | None = None,
    **instance_updates: Any,
) -> int:
    """Append events for an instance (and apply `instance_updates` to its row); returns the last id.

    `last_event_id` is the row's current value when the caller already holds the row's lock and
    read it; without it the counter is incremented in SQL and read back."""
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
    insert(tenant_id=tenant_id, now=now, rows=[(instance_pk, last - len(items) + 1 + i, item) for i, item in enumerate(items)])
    if items and settings.REDIS_URL:
        transaction.on_commit(lambda: poke(instance_id))
    return last


def poke(instance_id: Any) -> None:
    """Tell live consumers (engine.consumers) that an instance has new rows. Only a hint: they read
    the rows from the database, and poll anyway, so a lost message costs latency, never events.
    Embedded mode skips it: its in-memory channel layer does not reach the web process."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from .consumers import group_for_instance, group_for_workflow

    workflow_id = Instance.objects.filter(pk=instance_id).values_list("workflow_id", flat=True).first()
    layer = get_channel_layer()
    try:
        for group in (group_for_instance(instance_id), group_for_workflow(workflow_id)):
            async_to_sync(layer.group_send)(group, {"type": "progress.new"})
    except Exception:  # the broker is down: consumers still poll
        pass


def insert(*, tenant_id: int, now: datetime, rows: list[tuple[Any, int, Item]]) -> None:
    """Insert events (instance pk as stored, event id, item) whose ids the caller allocated."""
    if not rows:
        return
    # Raw executemany: the ORM's per-object work costs more than the insert (30+ rows per instance).
    created = connection.ops.adapt_datetimefield_value(now)
    adapt = connection.ops.adapt_json_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {ProgressEvent._meta.db_table} "
            "(tenant_id, instance_id, event_id, type, step, attempt, data, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (tenant_id, instance_pk, event_id, type_, step, attempt, None if data is None else adapt(data, None), created)
                for instance_pk, event_id, (type_, step, attempt, data) in rows
            ],
        )
