"""Celery tasks (distributed mode). Thin: each only calls the engine.

A task message is a token ("some instance may be due"), not an order to run one instance: the
database decides which instance runs (engine.dispatch), so a flood of one tenant's messages cannot
queue in front of another tenant's instance, and lost or extra tokens are harmless.
"""
import os
import socket
import time
from collections import deque

from celery.signals import task_postrun, worker_process_init

from . import clock, dispatch, heartbeat, live, runner
from .celery_app import app
from .sandbox import POOL

HOST = socket.gethostname()


def worker_name() -> str:
    # The lease owner names this process, read at each call: prefork children import this module
    # in the parent, and two children sharing a name could both commit to one instance.
    return f"celery:{HOST}:{os.getpid()}"


class _Candidates:
    """A Celery worker process's current round of due instances (from due_ids), so a token costs
    one claim, not one round of dispatch queries; a round older than a second is read again."""

    ids: deque = deque()
    read_at = 0.0


def advance_next(*, worker: str, now_fn) -> str | None:
    """Celery mode: what a token does. Advance the next due instance this process's round picks
    (skipping those another worker took or whose tenant is at its cap); None if nothing was due."""
    for fresh in (False, True):
        if fresh or not _Candidates.ids or time.monotonic() - _Candidates.read_at > 1.0:
            _Candidates.ids = deque(dispatch.due_ids(now=now_fn()))
            _Candidates.read_at = time.monotonic()
        while _Candidates.ids:
            result = runner.advance(_Candidates.ids.popleft(), worker=worker)
            if result != "skipped":
                return result
    return None


@app.task(acks_late=True, ignore_result=True)
def advance_due(spread: int = 1) -> str:
    """Advance the next due instance this process's round of tenants picks. A token sent for a
    commit of `spread` instances first queues tokens for the others (dispatch.send_batch). A token
    that found work passes itself on (there may be more); one that found none ends (the pump
    re-sends tokens when timers fire or tokens were lost)."""
    heartbeat.start_thread(mode="celery")
    live.warm()  # once per process (a pid check); for pools without the signal
    if spread > 1:
        dispatch.top_up(now=clock.now(), at_most=spread - 1)
    result = advance_next(worker=worker_name(), now_fn=clock.now)
    if result is None:
        return "idle"
    dispatch.send_tokens(1)
    return result


@app.task(acks_late=True, ignore_result=True)
def advance_instance(instance_id: str = "") -> str:
    """Messages of an earlier release named an instance: they are tokens like any other."""
    return advance_due()


@app.task(ignore_result=True)
def pump() -> int:
    return dispatch.pump(now=clock.now())


@worker_process_init.connect
def start_worker_process(**_) -> None:
    """Each Celery worker process reports itself to the health dashboard, busy or idle, and
    prepares fresh sandbox contexts before its first task."""
    heartbeat.start_thread(mode="celery")
    live.warm()
    POOL.fill()


@task_postrun.connect
def refill_context_pool(**_) -> None:
    """The task used a pooled context: make the next one now, between tasks (~1.5 ms), so the
    next instance starts without paying for it."""
    POOL.fill()
