"""Celery tasks (distributed mode). Thin: each only calls the engine."""
import os
import socket

from celery.signals import worker_process_init

from . import clock, dispatch, heartbeat, live, runner
from .celery_app import app

HOST = socket.gethostname()


@app.task(acks_late=True, ignore_result=True)
def advance_instance(instance_id: str) -> str:
    """"This instance may have work": claim it if due, advance it, release it."""
    heartbeat.start_thread(mode="celery")
    live.warm()  # once per process (a pid check); for pools without the signal
    # The lease owner names this process, read at each call: prefork children import this module
    # in the parent, and two children sharing a name could both commit to one instance.
    return runner.advance(instance_id, worker=f"celery:{HOST}:{os.getpid()}")


@app.task(ignore_result=True)
def pump() -> int:
    return dispatch.pump(now=clock.now())


@worker_process_init.connect
def start_heartbeat(**_) -> None:
    """Each Celery worker process reports itself to the health dashboard, busy or idle."""
    heartbeat.start_thread(mode="celery")
    live.warm()
