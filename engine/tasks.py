"""Celery tasks (distributed mode). Thin: each only calls the engine."""
import os
import socket

from config.celery import app

from . import clock, dispatch, runner

WORKER = f"celery:{socket.gethostname()}:{os.getpid()}"


@app.task(acks_late=True, ignore_result=True)
def advance_instance(instance_id: str) -> str:
    """"This instance may have work": claim it if due, advance it, release it."""
    return runner.advance(instance_id, worker=WORKER)


@app.task(ignore_result=True)
def pump() -> int:
    return dispatch.pump(now=clock.now())
