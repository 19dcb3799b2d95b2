"""Compaction of the progress log: once rows are older than ENGINE_PROGRESS_COMPACT_AFTER_SECONDS,
an instance's consecutive rows are merged (up to engine.progress.PACK events each) and leave the
workflow stream's index, so a sleeping instance keeps one progress row instead of one per commit.

Invariants:
- Nothing is lost: a merged row holds exactly the events of the rows it replaces (same ids, kinds,
  steps, attempts, data and times), and it replaces them in one transaction, so an instance-stream
  or history reader (rows by event id) sees either the old rows or the merged one, never both or
  neither.
- Compaction walks the workflow stream's order ((txid, id), rows of finished transactions only)
  from its oldest lifecycle row, and stops at the first row newer than the cutoff: what it has
  compacted is always a prefix of that order, and StreamHorizon records where the prefix ends
  (the row's position and its last lifecycle event: a cursor in the middle of that row is before it).
  A workflow-stream reader whose cursor is before the horizon may have missed events that were
  compacted away: it is told to re-read the instance list (engine.consumers sends `resync`) and goes
  on from the horizon. Within the window (an hour by default) a cursor resumes exactly.
- Merged rows are never lifecycle rows: the workflow stream only ever carries the window.
- Bounded work: a transaction looks at BATCH stream rows and merges at most MERGE_ROWS rows of each
  of their instances; a run stops after its time budget. PostgreSQL: one compaction at a time
  (an advisory lock, skipped when taken), and an instance retention is deleting is only taken out
  of the stream, not merged (no lock waits between the two, in either direction).
- The window is measured on the rows' own times (their first event's, by the host's clock): a
  commit of events that began over an hour earlier is compacted at once, and its readers get a
  `resync`, never a gap.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from . import progress
from .models import Instance, ProgressEvent, StreamHorizon

BATCH = 100  # lifecycle rows looked at per transaction (SQLite: the engine's commits wait that long)
MERGE_ROWS = 100  # rows of one instance read and merged per transaction, at most
LOCK_KEY = 0x636F6D70  # the advisory lock of compaction (PostgreSQL)

_last_run: float | None = None  # monotonic time of this process's last run (the hook's throttle)


def compact_hook(*, now: datetime) -> None:
    """A pump hook (settings.ENGINE_PUMP_HOOKS): runs at most every ENGINE_COMPACT_INTERVAL_SECONDS
    in a process. Several processes at once are safe: the horizon row's lock serializes them."""
    global _last_run
    # The first call runs at once (the monotonic clock starts at boot: an hour after it is no mark).
    if _last_run is not None and time.monotonic() - _last_run < settings.ENGINE_COMPACT_INTERVAL_SECONDS:
        return
    _last_run = time.monotonic()
    compact(now=now)


def compact(*, now: datetime, budget_seconds: float = 1.0) -> int:
    """Compact the rows older than the window, a batch per transaction, until none is left or
    the time budget is spent. Returns how many lifecycle rows left the stream."""
    cutoff = now - timedelta(seconds=settings.ENGINE_PROGRESS_COMPACT_AFTER_SECONDS)
    deadline = time.monotonic() + budget_seconds
    total = 0
    while True:
        done = compact_batch(cutoff=cutoff)
        total += done
        if done < BATCH or time.monotonic() >= deadline:
            return total


def horizon() -> tuple[int, int, int]:
    """The workflow stream's oldest exact position (txid, row id, event id): lifecycle events at or
    before it are compacted. (0, 0, 0) while nothing has been."""
    row = StreamHorizon.objects.filter(pk=1).values_list("txid", "row", "event").first()
    return row or (0, 0, 0)


def exclusive() -> bool:
    """One compaction at a time (PostgreSQL: a transaction-scoped advisory lock, not waited for:
    a waiting transaction would hold the stream's horizon back). SQLite has one writer anyway."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return cursor.fetchone()[0]


def mergeable(instance_ids: list[Any]) -> set[Any]:
    """The instances whose rows this transaction may merge: on PostgreSQL those it could lock
    FOR KEY SHARE without waiting (retention deleting one holds it FOR UPDATE: its rows are only
    taken out of the stream, and retention, which skips locked instances, never waits for us)."""
    if connection.vendor != "postgresql":
        return set(instance_ids)
    prep = Instance._meta.pk.get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Instance._meta.db_table} WHERE id IN ({', '.join(['%s'] * len(instance_ids))}) "
                       "FOR KEY SHARE SKIP LOCKED", [prep(pk, connection) for pk in instance_ids])
        return {row[0] for row in cursor.fetchall()}


def compact_batch(*, cutoff: datetime) -> int:
    with transaction.atomic():
        if not exclusive():
            return 0
        StreamHorizon.objects.get_or_create(pk=1)
        qs = ProgressEvent.objects.filter(lifecycle=True)
        if connection.vendor in progress.FINAL_SQL:  # rows whose place in the stream is final
            qs = qs.extra(where=[progress.FINAL_SQL[connection.vendor]])
        front = list(qs.order_by("txid", "pk").values("pk", "txid", "instance_id", "event_id", "count", "created_at",
                                                       "events")[:BATCH])
        prefix = []
        for row in front:
            if row["created_at"] >= cutoff:
                break
            prefix.append(row)
        if not prefix:
            return 0
        # Out of the stream, all of them, at once (cheap, by id): the prefix and the horizon move together.
        ProgressEvent.objects.filter(pk__in=[row["pk"] for row in prefix]).update(lifecycle=False, txid=0)
        last_of: dict[Any, int] = {}
        for row in prefix:
            last_of[row["instance_id"]] = row["event_id"]
        for instance_id in mergeable(list(last_of)):
            merge(instance_id, upto=last_of[instance_id])
        last = prefix[-1]
        event = max(e["eventId"] for e in progress.unpack(event_id=last["event_id"], count=last["count"],
                                                          created_at=last["created_at"], events=last["events"])
                    if progress.is_lifecycle(e["type"]))
        StreamHorizon.objects.filter(pk=1).update(txid=last["txid"], row=last["pk"], event=event)
        return len(prefix)


def merge(instance_id: Any, *, upto: int) -> None:
    """Merge the instance's last MERGE_ROWS rows up to event `upto` into rows of up to PACK
    events (consecutive rows only; a row is never split). Bounded: an instance with more rows
    than that keeps its older ones as they are (they stay correct, only less compact)."""
    rows = list(ProgressEvent.objects.filter(instance_id=instance_id, event_id__lte=upto).order_by("-event_id")
                .values("pk", "tenant_id", "event_id", "count", "created_at", "events")[:MERGE_ROWS])[::-1]
    groups: list[list[dict]] = []
    for row in rows:
        group = groups[-1] if groups else None
        if (group and sum(r["count"] for r in group) + row["count"] <= progress.PACK
                and group[-1]["event_id"] == row["event_id"] - row["count"]):
            group.append(row)
        else:
            groups.append([row])
    merged = [group for group in groups if len(group) > 1]
    if not merged:
        return
    ProgressEvent.objects.filter(pk__in=[r["pk"] for group in merged for r in group]).delete()
    adapt_time = connection.ops.adapt_datetimefield_value
    instance_pk = Instance._meta.pk.get_db_prep_value(instance_id, connection)
    values = []
    for group in merged:
        base = group[0]["created_at"]
        events = [event for row in group for event in rebase(row["events"], row["created_at"] - base)]
        values.append((group[0]["tenant_id"], instance_pk, group[-1]["event_id"], len(events), adapt_time(base),
                       json.dumps(events, separators=(",", ":"), ensure_ascii=False)))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {ProgressEvent._meta.db_table} "
            "(tenant_id, instance_id, event_id, count, created_at, events, lifecycle, txid) "
            "VALUES (%s, %s, %s, %s, %s, %s, FALSE, 0)", values)


def rebase(events: str, shift: timedelta) -> list[list]:
    """A row's stored events (engine.progress.pack) with their times made relative to a base
    `shift` earlier: the offset of each event's time and of an `until` stored as a number."""
    micros = shift // timedelta(microseconds=1)
    out = []
    for event in json.loads(events):
        event = event + [None] * (5 - len(event))
        if isinstance(event[3], int) and not isinstance(event[3], bool):
            event[3] += micros
        event[4] = (event[4] or 0) + micros or None
        while len(event) > 1 and event[-1] is None:
            event.pop()
        out.append(event)
    return out
