"""Getting due instances to a worker, fairly, at no cost while nothing is due.

The database decides what runs: an instance needs a worker when `Instance.due_at <= now`, and
which due instance runs next is chosen here (`due_ids`), never by the order of messages. Messages
and wake-ups only hurry that along; a lost or duplicated one costs latency, never work:
- embedded mode: worker processes (`manage.py engine_worker`, started by `manage.py serve`) sleep
  until the earliest `due_at` or until a commit that made work due rings their doorbell (a Unix
  datagram socket each, in `wake_dir()`: no server needed);
- celery mode: a task message is a *token*, "some instance may be due", not addressed to one: the
  worker that takes it advances the instance `due_ids` picks. A commit that makes work due sends
  one token that carries how many instances it made due (the worker that takes it sends the
  others' tokens: `send_batch`), a token that found work passes itself on, and the pump (`manage.py engine_pump` or Celery
  beat) tops the queue up to the number of due instances (bounded by ENGINE_CELERY_TOKENS): what is
  queued is the memory of what was sent, so a token is re-sent only when it may have been lost (a
  broker flush, a killed worker) or a timer fired, and one tenant's flood of instances is not a
  flood of messages in front of another tenant's.

Invariants of `due_ids` (checked with EXPLAIN in tests/engine/test_dispatch_plans.py):
- every query reads a bounded range of an index: the first `limit` entries of the tenants whose
  time has come (`tenantdue_at`, engine.due_tenants), a few entries of `instance_tenant_due` per
  tenant, the expired leases in `instance_leased`. Nothing reads the due set itself, so the cost
  of a round does not grow with the number of tenants, the backlog, or the sleeping instances;
- expired leases (recovery) come before new work;
- tenants with due work are served round-robin across all of them: a round takes the tenants
  that have waited longest and moves them to the back of the queue (engine.due_tenants), the
  oldest few instances of each; a tenant at its concurrency cap is refused by lease.claim (where
  the cap is checked) and its instances stay due for its next turn.
"""
from __future__ import annotations

import hashlib
import logging
import os
import select
import socket
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils.module_loading import import_string

from . import due_tenants
from .models import Instance, TenantDue

log = logging.getLogger(__name__)

_held = threading.local()


# ---- what is due --------------------------------------------------------------------------------
# Rounds of tenants one due_ids call reads at most when the tenants it reads have nothing due
# (each such tenant is settled, so the next round reads others).
ROUNDS = 4


def _db_now(now: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(now)


def _pk(value: Any) -> Any:
    return Instance._meta.pk.to_python(value)


def recovered_ids(*, now: datetime, limit: int) -> list[Any]:
    """Instances whose worker died (an expired lease), oldest first: a range of the partial index
    of leased instances, which holds only the instances being advanced right now."""
    table = Instance._meta.db_table
    # SQLite would rather read the due range of instance_due in order (a backlog's worth): told
    # which index to use (an error, not a slow plan, if it ever could not). PostgreSQL's
    # statistics see that the partial index is tiny.
    indexed = " INDEXED BY instance_leased" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table}{indexed} WHERE NOT (lease_owner = '') AND due_at <= %s ORDER BY due_at LIMIT %s",
                       [_db_now(now), limit])
        return [_pk(r[0]) for r in cursor.fetchall()]


def tenant_lanes(*, now: datetime, tenants: list[int], per_tenant: int) -> list[list[Any]]:
    """The oldest `per_tenant` due instances of each tenant, in one statement (a range of
    instance_tenant_due per tenant)."""
    if not tenants:
        return []
    table = Instance._meta.db_table
    one = (f"SELECT * FROM (SELECT id, tenant_id FROM {table} WHERE tenant_id = %s AND due_at <= %s "
           f"ORDER BY due_at LIMIT %s) AS lane{{}}")
    sql = " UNION ALL ".join(one.format(n) for n in range(len(tenants)))
    params: list[Any] = []
    for tenant_id in tenants:
        params += [tenant_id, _db_now(now), per_tenant]
    lanes: dict[int, list[Any]] = {t: [] for t in tenants}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for pk, tenant_id in cursor.fetchall():
            lanes[tenant_id].append(_pk(pk))
    return [lanes[t] for t in tenants]


def due_ids(*, now: datetime, limit: int = 50, per_tenant: int = 5) -> list[Any]:
    """Due instances in the order they should run: expired leases first, then one round of
    tenants with due work (the longest waiting, who move to the back), their oldest few each,
    interleaved. A tenant in the round with nothing due any more is settled (its row moves to its
    next timer) and the next tenants are read, a few rounds at most."""
    picked = recovered_ids(now=now, limit=limit)
    if len(picked) >= limit:
        return picked
    seen = set(picked)
    for _ in range(ROUNDS):
        tenants = due_tenants.take_round(now=now, limit=limit)
        if not tenants:
            break
        # Few tenants: give each a longer lane, so one busy tenant still fills the round.
        lanes = tenant_lanes(now=now, tenants=tenants, per_tenant=max(per_tenant, -(-limit // len(tenants))))
        for tenant_id, lane in zip(tenants, lanes):
            if not lane:
                due_tenants.settle(tenant_id, now=now)
        for row in zip_longest(*lanes):
            picked.extend(pk for pk in row if pk is not None and pk not in seen)
        if len(picked) > len(seen) or len(tenants) < limit:
            break
    return picked[:limit]


def next_due_at() -> datetime | None:
    """The earliest timer of any instance (a lease's expiry included): one index lookup."""
    return Instance.objects.filter(due_at__isnull=False).aggregate(at=Min("due_at"))["at"]


def count_due(*, now: datetime, cap: int) -> int:
    """How many instances are due, counted up to `cap` (a bounded range of instance_due)."""
    table = Instance._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE due_at <= %s LIMIT %s) AS due",
                       [_db_now(now), cap])
        return cursor.fetchone()[0]


# ---- embedded mode: a doorbell per worker process -------------------------------------------------
def wake_dir() -> Path:
    """Where this database's embedded workers listen: one directory per database, so test runs
    and deployments on one machine do not wake each other's workers."""
    s = connection.settings_dict
    identity = f"{s['ENGINE']}|{s.get('HOST') or ''}|{s.get('PORT') or ''}|{s['NAME']}"
    return Path(settings.VAR_DIR) / "wake" / hashlib.sha1(identity.encode()).hexdigest()[:12]


class Doorbell:
    """A worker's wake-up: a Unix datagram socket bound in wake_dir(). `ring()` (any process)
    sends a byte to every bound socket; `wait(timeout)` returns when one arrives or the timeout
    passes. A datagram is only a hint: the worker reads the database after every wake-up."""

    def __init__(self) -> None:
        directory = wake_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{os.getpid()}.sock"
        self.path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        rang = bool(readable)
        while rang:
            try:
                self.sock.recv(64)
            except BlockingIOError:
                break
        return rang

    def close(self) -> None:
        self.sock.close()
        self.path.unlink(missing_ok=True)


_sender: tuple[int, socket.socket] | None = None


def ring() -> int:
    """Wake every embedded worker of this database (a few microseconds each). Sockets left by
    killed workers refuse the datagram and are removed."""
    global _sender
    if _sender is None or _sender[0] != os.getpid():
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        _sender = (os.getpid(), sock)
    sock, rung = _sender[1], 0
    try:
        paths = list(wake_dir().glob("*.sock"))
    except OSError:
        return 0
    for path in paths:
        try:
            sock.sendto(b"!", str(path))
            rung += 1
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)  # its worker is gone
        except (BlockingIOError, OSError):
            rung += 1  # its queue is full: it has wake-ups waiting already
    return rung


# ---- celery mode: tokens ---------------------------------------------------------------------------
ADVANCE_TASK = "engine.tasks.advance_due"  # sent by name: engine.tasks imports this module


def queue_name() -> str:
    from .celery_app import app  # not at import: Celery costs ~150 ms, and embedded mode never sends

    return app.conf.task_default_queue


_redis: tuple[int, Any] | None = None


def queued_tokens() -> int:
    """Tokens waiting in the broker's queue (LLEN of the Redis list Celery's transport uses)."""
    global _redis
    if _redis is None or _redis[0] != os.getpid():
        import redis

        _redis = (os.getpid(), redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5,
                                                      socket_connect_timeout=5, health_check_interval=30))
    return int(_redis[1].llen(queue_name()))


def send_tokens(count: int) -> int:
    """Put up to `count` tokens in the queue, never past ENGINE_CELERY_TOKENS waiting; returns how
    many were sent. After the commit: the work is saved, so a broker that is down costs only the
    pump's delay."""
    from .celery_app import app

    if count <= 0:
        return 0
    try:
        count = min(count, settings.ENGINE_CELERY_TOKENS - queued_tokens())
        if count <= 0:
            return 0
        with app.producer_or_acquire() as producer:  # one broker connection for all
            for _ in range(count):
                # declare: re-creates the queue's routing after a broker flush (kombu keeps it in Redis).
                app.send_task(ADVANCE_TASK, (), producer=producer, declare=[app.amqp.default_queue])
        return count
    except Exception:
        log.warning("dispatch: %d task messages not sent; the pump will send them", count, exc_info=True)
        return 0


def send_batch(count: int) -> int:
    """Celery mode, after a commit that made `count` instances due: one message for all of them.
    It carries `spread`: the worker that takes it tops the queue up for the others (`top_up`)
    before its own advance, so a web process pays one broker write per batch of deliveries, and
    the fan-out is paid by the workers, which scale out. Returns the messages sent (0 or 1)."""
    from .celery_app import app

    if count <= 0:
        return 0
    try:
        if queued_tokens() >= settings.ENGINE_CELERY_TOKENS:
            return 0
        app.send_task(ADVANCE_TASK, (), kwargs={"spread": count} if count > 1 else {}, declare=[app.amqp.default_queue])
        return 1
    except Exception:
        log.warning("dispatch: a task message for %d instances not sent; the pump will send it", count, exc_info=True)
        return 0


def top_up(*, now: datetime, at_most: int) -> int:
    """Queue up to `at_most` more tokens, never past the number of due instances (so tokens already
    queued are not sent twice) nor ENGINE_CELERY_TOKENS. Returns the tokens sent."""
    due = count_due(now=now, cap=settings.ENGINE_CELERY_TOKENS)
    if not due:
        return 0
    return send_tokens(min(at_most, due - queued_tokens()))


def send(ids: list[Any]) -> None:
    """After the commit that made `ids` due: wake the workers that will pick them."""
    if settings.ENGINE_DISPATCH == "celery":
        send_batch(len(ids))
    else:
        ring()


def notify(instance_ids: list[Any]) -> None:
    """Called inside the transaction that made instances due: wake workers once it commits."""
    if not instance_ids:
        return
    ids = list(instance_ids)
    held = getattr(_held, "ids", None)
    transaction.on_commit(lambda: held.extend(ids) if held is not None else send(ids))


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


# ---- the pump ----------------------------------------------------------------------------------------
def run_hooks(*, now: datetime) -> None:
    """Periodic work of other apps (schedule triggers, retention): settings.ENGINE_PUMP_HOOKS, each
    given now. A failing hook is logged and the others still run (and so does the dispatch after)."""
    for path in settings.ENGINE_PUMP_HOOKS:
        try:
            import_string(path)(now=now)
        except Exception:
            log.exception("pump hook %s failed", path)


# Seconds between runs of the pump hooks in a process (the pump; one embedded worker of a set):
# a schedule's slot fires at most this late.
HOOKS_EVERY = 5.0
_hooks_at = -HOOKS_EVERY  # monotonic time of the pump's last run of the hooks


def pump(*, now: datetime) -> int:
    """Celery mode, every interval: top the queue up to the number of due instances (timers that
    fired, expired leases, tokens lost to a broker flush), and every HOOKS_EVERY run the hooks.
    Returns the tokens sent."""
    global _hooks_at
    if time.monotonic() - _hooks_at >= HOOKS_EVERY:
        _hooks_at = time.monotonic()
        run_hooks(now=now)
    return top_up(now=now, at_most=settings.ENGINE_CELERY_TOKENS)


# ---- plans that stay right ---------------------------------------------------------------------------
class _Analyzed:
    at = 0.0


ANALYZE_EVERY = 3600.0


def analyze(*, using=None) -> None:
    """Refresh the planner's statistics. SQLite never does it by itself; a bounded sample
    (analysis_limit) keeps it to milliseconds on any size. PostgreSQL's autovacuum does it too."""
    conn = connection if using is None else using
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
        elif conn.vendor == "postgresql":
            cursor.execute(f"ANALYZE {Instance._meta.db_table}, {TenantDue._meta.db_table}")


def analyze_hook(*, now: datetime) -> None:
    """A pump hook: ANALYZE once an hour per process on SQLite (PostgreSQL analyzes by itself)."""
    if connection.vendor != "sqlite" or time.monotonic() - _Analyzed.at < ANALYZE_EVERY:
        return
    if _Analyzed.at == 0.0:  # not at start-up: migrate has just done it
        _Analyzed.at = time.monotonic()
        return
    _Analyzed.at = time.monotonic()
    analyze()
