"""The embedded worker loop: claim due instances from the database and advance them.

Runs in its own process (started by `manage.py serve` or `manage.py engine_worker`), with an
OS memory cap, so tenant code that blows up costs a recyclable worker, never the web server.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import socket
import threading
import time
import uuid

from django.db import DatabaseError, close_old_connections, connections

from . import clock, dispatch, heartbeat, live, runner
from .sandbox import POOL, warm_guest

log = logging.getLogger(__name__)


def cap_memory(megabytes: int) -> None:
    """RLIMIT_DATA, not RLIMIT_AS: wasmtime reserves GiBs of address space per sandbox."""
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def worker_name() -> str:
    return f"embedded:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


HOOKS_EVERY = dispatch.HOOKS_EVERY  # the pump hooks (schedules, retention, compaction); slot 0 only
MAX_SLEEP = 60.0  # an idle worker looks at the database at least this often, whatever it was told


def run(*, name: str | None = None, until_idle: bool = False, hooks: bool = True) -> int:
    """Advance due instances until stopped (or, with until_idle, until none is due). Returns the count.

    Idle costs nothing measurable: with no due work the worker sleeps until the earliest timer,
    the next run of the hooks (`hooks`: this process runs them), or a ring of its doorbell (a
    commit that made work due), whichever comes first (at most MAX_SLEEP); it never polls. A
    database that goes away is waited out."""
    name = name or worker_name()
    warm_guest()
    live.warm()
    advanced, backoff, hooks_at = 0, 0.0, 0.0
    beat, bell = None, None
    if until_idle:
        beat = heartbeat.Beat(name=name, mode="embedded")  # beats from this loop (tests, benchmarks)
    else:
        heartbeat.start_thread(name=name, mode="embedded")  # beats even while an advance blocks
        bell = dispatch.Doorbell()
    try:
        while True:
            if beat is not None:
                try:
                    beat.maybe()  # a monotonic-clock check; writes at most every ENGINE_HEARTBEAT_SECONDS
                except Exception:
                    log.warning("worker %s: heartbeat failed", name, exc_info=True)
            if hooks and time.monotonic() - hooks_at >= HOOKS_EVERY:
                # Embedded mode has no pump: workers fire schedules (claims make it safe for several).
                hooks_at = time.monotonic()
                try:
                    dispatch.run_hooks(now=clock.now())
                except Exception:
                    log.exception("worker %s: pump hooks failed", name)
            try:
                ids = dispatch.due_ids(now=clock.now())
                done = 0
                for pk in ids:
                    try:
                        if runner.advance(pk, worker=name) != "skipped":
                            done += 1
                    except Exception:  # one instance's failure must not stop the worker; its lease expires
                        log.exception("worker %s: advance of %s failed", name, pk)
                        close_old_connections()
                    # Replace the context this advance used now, as the Celery worker does after each
                    # task: a worker that is never idle (instances arriving faster than it advances
                    # them) would otherwise find its pool empty after `size` advances.
                    POOL.fill()
                advanced += done
                if done:
                    backoff = 0.0
                    continue
                if until_idle and not ids:
                    return advanced
                POOL.fill()  # idle: make the next instances' sandboxes now (after a failed read too)
                next_due = dispatch.next_due_at()
            except DatabaseError:
                log.warning("worker %s: database unavailable; retrying", name, exc_info=True)
                connections.close_all()
                next_due, ids = None, [None]
            close_old_connections()
            if ids:
                # Due work that could not be claimed (other workers have it, or its tenant is at its
                # cap): look again soon, a little later each time, or when rung.
                backoff = min(max(backoff * 2, 0.005), 1.0)
                timeout = backoff
            else:
                backoff = 0.0
                timeout = MAX_SLEEP if next_due is None else (next_due - clock.now()).total_seconds()
            if hooks:
                timeout = min(timeout, hooks_at + HOOKS_EVERY - time.monotonic())
            timeout = min(timeout, MAX_SLEEP)
            if bell is not None:
                bell.wait(timeout)
            else:
                time.sleep(max(0.0, min(timeout, 0.05)))
    finally:
        if bell is not None:
            bell.close()


class Supervisor:
    """Keeps `count` worker processes running: one that dies (the OS cap killed it, or a crash) is
    replaced at once; the instance it held is recovered when its lease expires.

    Workers are forked from a multiprocessing forkserver that has already imported Django and the
    engine (engine.forkserver), so a replacement worker reaches its first step in tens of
    milliseconds instead of a fresh interpreter's ~0.4 s. The forkserver never touches wasmtime or a
    database connection: each worker opens its own. `overrides` are settings applied in each worker
    (tests point workers at the test database this way).
    """

    def __init__(self, count: int, *, memory_mb: int = 0, overrides: dict | None = None, restart_delay: float = 0.2):
        self.count, self.memory_mb, self.overrides, self.restart_delay = count, memory_mb, overrides or {}, restart_delay
        self.stopping = threading.Event()
        self.procs: dict[int, multiprocessing.process.BaseProcess] = {}
        self.restarts = 0
        self.mp = multiprocessing.get_context("forkserver")
        self.mp.set_forkserver_preload(["engine.forkserver"])

    def start(self) -> None:
        for slot in range(self.count):
            threading.Thread(target=self._keep, args=(slot,), daemon=True, name=f"worker-slot-{slot}").start()

    def _keep(self, slot: int) -> None:
        while not self.stopping.is_set():
            proc = self.mp.Process(target=child_main, args=(self.memory_mb, self.overrides, slot == 0),
                                   name=f"engine-worker-{slot}")
            proc.start()
            self.procs[slot] = proc
            proc.join()
            if self.stopping.is_set():
                return
            self.restarts += 1
            log.warning("engine worker %s (pid %s) exited with %s; starting another", slot, proc.pid, proc.exitcode)
            time.sleep(self.restart_delay)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values() if p.is_alive()]

    def stop(self) -> None:
        self.stopping.set()
        for proc in self.procs.values():
            if proc.is_alive():
                proc.terminate()
        for proc in self.procs.values():
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()


def child_main(memory_mb: int, overrides: dict, hooks: bool = True) -> None:
    """A supervised worker process: apply the cap and overrides, then run the loop (with the
    hooks in one process of the set: running them in every one would only repeat the checks)."""
    from django.conf import settings
    from django.db import connections

    for name, value in overrides.items():
        setattr(settings, name, value)
    if "DATABASES" in overrides:
        # The forkserver may have built (never opened) connection objects from the old settings.
        for alias in list(connections.settings):
            if hasattr(connections._connections, alias):
                del connections[alias]
        connections._settings = None
        connections.__dict__.pop("settings", None)
    cap_memory(memory_mb)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    run(hooks=hooks)
