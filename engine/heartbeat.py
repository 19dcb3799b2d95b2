"""Worker heartbeats and per-minute activity, for the console's health dashboard and /metrics.

Invariants:
- Nothing here runs per step. The runner only bumps plain in-process counters (COUNTERS); a worker
  writes them at most every ENGINE_HEARTBEAT_SECONDS: one upsert of its WorkerHeartbeat row and,
  when something happened, one increment of the current minute's ActivityMinute row with what
  changed since its previous beat. A worker killed with SIGKILL loses at most one interval of
  counts: these figures are for operators, tenants.Usage is the exact (billing) record.
- A heartbeat row belongs to one worker process (by name); rows not seen for
  ENGINE_HEARTBEAT_PRUNE_SECONDS are deleted, activity rows after ACTIVITY_KEEP.
- A worker process beats from a daemon thread (start_thread), so a worker blocked in a long
  advance or a Celery process idle between tasks still reports itself. In-process runs that stop
  when idle (tests, benchmarks) beat inline from the loop instead (Beat.maybe).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from .models import ActivityMinute, WorkerHeartbeat

log = logging.getLogger(__name__)

ACTIVITY_KEEP = timedelta(days=1)
PRUNE_EVERY = 60.0  # seconds between a worker's prunes of stale rows


@dataclass
class Counters:
    """This process's totals since it started (plain ints: the GIL makes += safe enough here)."""

    advances: int = 0
    steps: int = 0
    recoveries: int = 0
    lost_attempts: int = 0
    program_hits: int = 0
    program_misses: int = 0
    program_evictions: int = 0


COUNTERS = Counters()


def counters_reset() -> None:
    """Zero this process's counters (tests: each starts as a fresh worker process would)."""
    for name, value in asdict(Counters()).items():
        setattr(COUNTERS, name, value)
ACTIVITY_FIELDS = ("advances", "steps", "recoveries", "lost_attempts")


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the figure is informative only
        return 0


def minute_of(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def activity_add(*, now: datetime | None = None, **deltas: int) -> None:
    """Add to the current minute's activity row (created by the first writer of the minute)."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    minute = minute_of(now or timezone.now())
    increments = {k: F(k) + v for k, v in deltas.items()}
    with transaction.atomic():
        if ActivityMinute.objects.filter(minute=minute).update(**increments):
            return
        try:
            with transaction.atomic():  # a savepoint: another worker may create the row first
                ActivityMinute.objects.create(minute=minute, **deltas)
        except IntegrityError:
            ActivityMinute.objects.filter(minute=minute).update(**increments)


class Beat:
    """The heartbeat of one worker process: `maybe()` is cheap enough to call on every loop turn."""

    def __init__(self, *, name: str, mode: str):
        self.name, self.mode = name, mode
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started = timezone.now()
        self.sent = Counters()  # what the previous beat already added to the activity rows
        self.last = 0.0  # monotonic time of the previous beat
        self.pruned = time.monotonic()

    def maybe(self) -> bool:
        if time.monotonic() - self.last < settings.ENGINE_HEARTBEAT_SECONDS:
            return False
        self.beat()
        return True

    def beat(self) -> None:
        from . import runner  # the runner imports this module's counters
        from .sandbox.runtime import POOL

        self.last = time.monotonic()
        now = timezone.now()
        current = Counters(**asdict(COUNTERS))
        # A copy made in one C call under the GIL: the worker's thread may change the LRU meanwhile.
        programs = list(runner._programs.values())
        pool = POOL.stats()
        fields = {
            "mode": self.mode, "host": self.host[:255], "pid": self.pid, "started_at": self.started, "last_seen": now,
            "instances_advanced": current.advances, "steps": current.steps, "recoveries": current.recoveries,
            "programs_cached": len(programs), "program_cache_bytes": sum(len(p) for p in programs),
            "program_hits": current.program_hits, "program_misses": current.program_misses,
            "program_evictions": current.program_evictions,
            "contexts_ready": pool["ready"], "context_hits": pool["hits"], "context_misses": pool["misses"],
            "rss_bytes": rss_bytes(),
        }
        with transaction.atomic():
            if not WorkerHeartbeat.objects.filter(name=self.name).update(**fields):
                WorkerHeartbeat.objects.create(name=self.name, **fields)
            activity_add(now=now, **{k: getattr(current, k) - getattr(self.sent, k) for k in ACTIVITY_FIELDS})
        self.sent = current
        if self.last - self.pruned >= PRUNE_EVERY:
            self.pruned = self.last
            prune(now=now)


def prune(*, now: datetime) -> None:
    """Delete heartbeats of workers gone for a while, and activity older than a day."""
    WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(seconds=settings.ENGINE_HEARTBEAT_PRUNE_SECONDS)).delete()
    ActivityMinute.objects.filter(minute__lt=now - ACTIVITY_KEEP).delete()


# ---- worker processes: a daemon thread beats, busy or idle ----------------------------------------
_thread_pid: int | None = None
_thread_lock = threading.Lock()


def thread_running() -> bool:
    return _thread_pid == os.getpid()


def start_thread(*, mode: str, name: str | None = None) -> None:
    """Start this process's heartbeat thread once (again after a fork: threads do not survive one)."""
    global _thread_pid
    if _thread_pid == os.getpid():
        return
    with _thread_lock:
        if _thread_pid == os.getpid():
            return
        _thread_pid = os.getpid()
        beat = Beat(name=name or f"{mode}:{socket.gethostname()}:{os.getpid()}", mode=mode)
        threading.Thread(target=_beat_forever, args=(beat,), daemon=True, name="engine-heartbeat").start()


def _beat_forever(beat: Beat) -> None:
    while True:
        try:
            beat.beat()
        except Exception:  # the database may be away for a moment: beat again next interval
            log.warning("heartbeat of %s failed", beat.name, exc_info=True)
            close_old_connections()
            connection.close()
        time.sleep(settings.ENGINE_HEARTBEAT_SECONDS)
