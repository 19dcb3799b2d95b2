"""Celery tasks (distributed mode). Thin: each only calls the engine."""
import os
import socket

from celery import shared_task

from . import clock, dispatch, runner

WORKER = f"celery:{socket.gethostname()}:{os.getpid()}"


@shared_task(acks_late=True, ignore_result=True)
def advance_instance(instance_id: str) -> str:
    """"This instance may have work": claim it if due, advance it, release it."""
    return runner.advance(instance_id, worker=WORKER)


@shared_task(ignore_result=True)
def pump() -> int:
    return dispatch.pump(now=clock.now())
