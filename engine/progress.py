"""The progress log: what happened to an instance, as rows the live view streams and replays.

Invariants:
- Event ids increase per instance in commit order. `record` takes them from
  Instance.last_event_id with an UPDATE inside the caller's transaction; that UPDATE holds the
  instance row's lock (PostgreSQL) or the database write lock (SQLite) until commit, so a reader
  that has seen id N never later finds a new id below N.
- Events committed together are packed: one row holds up to PACK consecutive events of one
  instance (ids `event_id - count + 1 .. event_id`), each encoded as a short JSON list (`pack`,
  `unpack`). Nothing is dropped: every event keeps its type, step, attempt, data and its own time
  (to the microsecond). A kind is stored as its number in KIND_CODES, or by name when it has none,
  so a new kind needs no migration (give it a number to store it shorter); data that is only an
  `until` time (sleeps, waits) is stored as its offset from the row's time, read back as the same text.
- A row's `txid` (PostgreSQL) orders the workflow stream: it is at least the writing transaction's
  id, and it is taken while the instance's row is locked, so one instance's rows are in commit
  order by (txid, id) (see TXID_SQL).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Iterable

from django.db import connection, transaction
from django.db.models import F

from .models import Instance, ProgressEvent

# Outputs in progress events are cut to this many characters; the step history holds the full value.
PREVIEW_CHARS = 2048
PACK = 50  # events per row at most: a read of a batch of rows stays bounded


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

# The stored number of each kind. Numbers are forever: never reuse or renumber one; a new kind
# takes the next free number (or none: it is then stored by name, which works as well).
KIND_CODES = {
    EventType.WORKFLOW_QUEUED: 1, EventType.WORKFLOW_STARTED: 2, EventType.WORKFLOW_PAUSED: 3,
    EventType.WORKFLOW_WAITING: 4, EventType.WORKFLOW_COMPLETED: 5, EventType.WORKFLOW_ERRORED: 6,
    EventType.WORKFLOW_TERMINATED: 7, EventType.STEP_STARTED: 8, EventType.STEP_COMPLETED: 9,
    EventType.STEP_ERRORED: 10, EventType.ATTEMPT_STARTED: 11, EventType.ATTEMPT_ERRORED: 12,
    EventType.SLEEP_STARTED: 13, EventType.SLEEP_COMPLETED: 14, EventType.WAIT_STARTED: 15,
    EventType.WAIT_COMPLETED: 16, EventType.WAIT_TIMED_OUT: 17, EventType.LOG: 18,
}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}


def is_lifecycle(kind: str) -> bool:
    """Events the workflow stream carries (the Instances page): what happened to the instance."""
    return kind.startswith("workflow_")


def preview(text: str | None) -> dict:
    """An output (JSON text) for an event: whole when short, else cut and flagged."""
    if text is None or len(text) <= PREVIEW_CHARS:
        return {"output": text}
    return {"output": text[:PREVIEW_CHARS], "truncated": True, "size": len(text)}


Item = tuple[str, str | None, int | None, dict | None]  # (type, step, attempt, data)


def _until_offset(data: dict | None, base: datetime) -> int | None:
    """A sleep's or a wait's data `{"until": <ISO time in UTC>}` as microseconds after `base`
    (a number instead of 45 characters), when that gives back the very same text; else None."""
    if not data or len(data) != 1 or not isinstance(data.get("until"), str):
        return None
    try:
        until = datetime.fromisoformat(data["until"])
    except ValueError:
        return None
    if until.utcoffset() != timedelta(0) or until.isoformat() != data["until"]:
        return None
    offset = (until - base) // timedelta(microseconds=1)
    return offset if (base + timedelta(microseconds=offset)).isoformat() == data["until"] else None


def pack(items: list[Item], times: list[datetime]) -> str:
    """Events as stored: `[kind, step, attempt, data, microseconds after the row's time]`, with
    trailing empty fields left out (a workflow_started is `[2]`). Data that is only an `until`
    time is stored as a number: microseconds from the row's time to it (`_until_offset`)."""
    base = times[0]
    out = []
    for (kind, step, attempt, data), at in zip(items, times):
        offset = (at - base) // timedelta(microseconds=1)
        until = _until_offset(data, base)
        event = [KIND_CODES.get(kind, kind), step, attempt, data or None if until is None else until, offset or None]
        while len(event) > 1 and event[-1] is None:
            event.pop()
        out.append(event)
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def unpack(*, event_id: int, count: int, created_at: datetime, events: str) -> list[dict]:
    """A row's events as the API and the live view show them: `{eventId, type, timestamp, step,
    attempt, **data}`, in event id order."""
    out = []
    first = event_id - count + 1
    for n, event in enumerate(json.loads(events)):
        event += [None] * (5 - len(event))
        kind, step, attempt, data, offset = event
        at = created_at + timedelta(microseconds=offset) if offset else created_at
        if isinstance(data, int):  # an `until` time (pack)
            data = {"until": (created_at + timedelta(microseconds=data)).isoformat()}
        out.append({"eventId": first + n, "type": KIND_NAMES.get(kind, kind) if isinstance(kind, int) else kind,
                    "timestamp": at.isoformat(), "step": step, "attempt": attempt, **(data or {})})
    return out


def events_of(rows: Iterable[ProgressEvent | dict], *, after: int = 0) -> list[dict]:
    """The events of rows (model objects or `.values()` dicts), those after `after` only."""
    out = []
    for row in rows:
        get = row.get if isinstance(row, dict) else row.__dict__.get
        out += [e for e in unpack(event_id=get("event_id"), count=get("count"), created_at=get("created_at"),
                                  events=get("events")) if e["eventId"] > after]
    return out


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
    insert(tenant_id=tenant_id, now=now, rows=[(instance_pk, last - len(items) + 1, items, times)])
    if items:
        notify_on_commit([instance_id])
    return last


def notify_on_commit(instance_ids: list[Any], *, workflow_id: Any = None) -> None:
    """After the commit, tell live consumers these instances have new rows (engine.live: a hint
    only, by Redis or a datagram; the consumers read the rows from the database)."""
    from . import live

    transaction.on_commit(lambda: [live.publish(i, workflow_id=workflow_id) for i in instance_ids])


# The workflow stream reads rows in (txid, id) order, only below the oldest transaction still
# running (engine.consumers.WorkflowProgressConsumer), so a row committed late is never skipped.
# The txid is the larger of the writing transaction's id (so it is at least the horizon while the
# transaction runs) and the statement snapshot's xmax (one past the latest completed transaction),
# taken at insert, after the instance's row is locked: a writer of the same instance that comes
# next inserts after this transaction completed, so its txid is not lower and its id is higher.
# (The transaction's id alone can order one instance's rows against their commits: a transaction
# may get its id, then wait for the instance's lock while a newer one writes and commits.)
# SQLite has one writer: ids are in commit order, and txid is 0.
# Rows of finished transactions only (PostgreSQL): a row's place in the (txid, id) order is final
# once every transaction older than it has completed (the workflow stream, compaction).
FINAL_SQL = {"postgresql": "txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"}
TXID_SQL = {"postgresql": "GREATEST(pg_current_xact_id()::text::bigint, "
                          "pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"}


def insert(*, tenant_id: int, now: datetime,
           rows: list[tuple[Any, int, list[Item], list[datetime | None] | None]]) -> None:
    """Insert the events of instances: (instance pk as stored, first event id, items, times or
    None), ids allocated by the caller. `times` is each item's time (when it happened, by the
    host's clock); an item without one, or with no `times`, happened `now`."""
    values = []
    adapt_time = connection.ops.adapt_datetimefield_value
    for instance_pk, first, items, times in rows:
        times = [now] * len(items) if times is None else [t or now for t in times]
        for start in range(0, len(items), PACK):
            chunk, at = items[start:start + PACK], times[start:start + PACK]
            values.append((tenant_id, instance_pk, first + start + len(chunk) - 1, len(chunk), adapt_time(at[0]),
                           pack(chunk, at), any(is_lifecycle(item[0]) for item in chunk)))
    if not values:
        return
    # Raw executemany: the ORM's per-object work costs more than the insert.
    txid = TXID_SQL.get(connection.vendor, "0")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {ProgressEvent._meta.db_table} "
            "(tenant_id, instance_id, event_id, count, created_at, events, lifecycle, txid) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, {txid})", values)
