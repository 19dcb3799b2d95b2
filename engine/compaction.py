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
  compacted is always a prefix of that order, and StreamHorizon records where the prefix ends.
  A workflow-stream reader whose cursor is before the horizon may have missed events that were
  compacted away: it is told to re-read the instance list (engine.consumers sends `resync`) and goes
  on from the horizon. Within the window (an hour by default) a cursor resumes exactly.
- Merged rows are never lifecycle rows: the workflow stream only ever carries the window.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from . import progress
from .models import ProgressEvent, StreamHorizon

BATCH = 200  # lifecycle rows looked at per transaction (SQLite: the engine's commits wait that long)

_last_run = 0.0  # monotonic time of this process's last run (the hook's throttle)


def compact_hook(*, now: datetime) -> None:
    """A pump hook (settings.ENGINE_PUMP_HOOKS): runs at most every ENGINE_COMPACT_INTERVAL_SECONDS
    in a process. Several processes at once are safe: the horizon row's lock serializes them."""
    global _last_run
    if time.monotonic() - _last_run < settings.ENGINE_COMPACT_INTERVAL_SECONDS:
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


def horizon() -> tuple[int, int]:
    """The workflow stream's oldest exact position (txid, row id): lifecycle rows before it are
    compacted. (0, 0) while nothing has been."""
    row = StreamHorizon.objects.filter(pk=1).values_list("txid", "row").first()
    return row or (0, 0)


def compact_batch(*, cutoff: datetime) -> int:
    with transaction.atomic():
        # The horizon row, locked: one compaction at a time (the second waits, then finds the
        # prefix already gone).
        StreamHorizon.objects.get_or_create(pk=1, defaults={"txid": 0, "row": 0})
        StreamHorizon.objects.select_for_update().filter(pk=1).first()
        qs = ProgressEvent.objects.filter(lifecycle=True)
        if connection.vendor in progress.FINAL_SQL:  # rows whose place in the stream is final
            qs = qs.extra(where=[progress.FINAL_SQL[connection.vendor]])
        front = list(qs.order_by("txid", "pk").values("pk", "txid", "instance_id", "event_id", "count", "created_at")[:BATCH])
        prefix = []
        for row in front:
            if row["created_at"] >= cutoff:
                break
            prefix.append(row)
        if not prefix:
            return 0
        by_instance: dict[Any, list[dict]] = {}
        for row in prefix:
            by_instance.setdefault(row["instance_id"], []).append(row)
        for instance_id, rows in by_instance.items():
            compact_instance(instance_id, rows)
        last = prefix[-1]
        StreamHorizon.objects.filter(pk=1).update(txid=last["txid"], row=last["pk"])
        return len(prefix)


def compact_instance(instance_id: Any, stream_rows: list[dict]) -> None:
    """Take the instance's `stream_rows` (its lifecycle rows in the compacted prefix, in event
    order: one instance's rows are in the same order in the stream) out of the stream, merging
    them and the rows between them with their neighbours. Reads back at most PACK events before
    the first of them (a partly filled merged row they may join), so the work is bounded."""
    upto = stream_rows[-1]["event_id"]
    floor = stream_rows[0]["event_id"] - stream_rows[0]["count"] - progress.PACK
    rows = list(ProgressEvent.objects.filter(instance_id=instance_id, event_id__gt=floor, event_id__lte=upto)
                .order_by("event_id").values("pk", "tenant_id", "event_id", "count", "created_at", "events", "lifecycle"))
    groups: list[list[dict]] = []
    for row in rows:
        group = groups[-1] if groups else None
        if (group and sum(r["count"] for r in group) + row["count"] <= progress.PACK
                and group[-1]["event_id"] == row["event_id"] - row["count"]):
            group.append(row)
        else:
            groups.append([row])
    merged, out_of_stream = [], []
    for group in groups:
        if len(group) > 1:
            merged.append(group)
        elif group[0]["lifecycle"]:
            out_of_stream.append(group[0]["pk"])
    if out_of_stream:
        ProgressEvent.objects.filter(pk__in=out_of_stream).update(lifecycle=False, txid=0)
    if not merged:
        return
    ProgressEvent.objects.filter(pk__in=[r["pk"] for group in merged for r in group]).delete()
    adapt_time = connection.ops.adapt_datetimefield_value
    instance_pk = ProgressEvent._meta.get_field("instance").get_db_prep_value(instance_id, connection)
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
