"""Capability calls that run while the program goes on: `Promise.all` over steps calling step.http.

A CONCURRENT capability (engine.capabilities) is not performed inside the program's host call:
the host checks and prepares the call there exactly as for any other (the batch before it
committed, the lease checked, the calling step and the Idempotency-Key fixed), then hands it to a
thread and answers `pending: id`. When the program's job queue is empty the advance waits for the
first call to end and hands its reply back (ProgramRun.settle), so calls started together overlap.

Invariants:
- At most the plan's `http_concurrency` calls of one advance run at once (the others queue here);
  a tenant runs at most `concurrent_instances` advances at once, so at most the product of the two
  calls. Threads are per advance and gone when it ends: nothing outlives the lease.
- A call's thread touches no database connection and no state of the advance but `Call.counters`
  (under `Call.lock`); everything else (redaction, JSON, the reply) happens on the advance's thread.
- The fencing check still runs right before anything leaves the worker (`Call.fence`, in the
  thread), so a call queued behind others is refused once the lease may have expired.
- When the advance ends with calls still queued they are cancelled; running ones finish (each is
  bounded by its timeout) before the advance releases the instance.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from .capabilities import CapabilityError
from .lease import LeaseLost

log = logging.getLogger(__name__)


class Calls:
    """The calls one advance has in flight."""

    def __init__(self, bound: int) -> None:
        self.bound = max(1, bound)
        self.executor: ThreadPoolExecutor | None = None
        self.pending: dict[Future, tuple[int, str]] = {}  # -> (call id, capability name)
        self.next_id = 0
        self.peak = 0  # most calls in flight at once (figures, tests)

    def __bool__(self) -> bool:
        return bool(self.pending)

    def submit(self, name: str, fn: Callable[[], Any]) -> int:
        """Start `fn` (capability `name` applied to its Call) in a thread; returns the call's id."""
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.bound, thread_name_prefix="capability")
        self.next_id += 1
        self.pending[self.executor.submit(fn)] = (self.next_id, name)
        self.peak = max(self.peak, min(len(self.pending), self.bound))
        return self.next_id

    def wait(self) -> list[tuple[int, str, Future]]:
        """Block until at least one call ended; returns the ended ones, oldest first."""
        done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
        return sorted((*self.pending.pop(f), f) for f in done)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
        self.pending.clear()


def reply_of(future: Future, *, name: str, instance_id: Any) -> dict:
    """A finished call as the program's reply; LeaseLost propagates (the advance stops)."""
    try:
        return {"result": json.loads(json.dumps(future.result()))}
    except CapabilityError as e:  # the calling step's failure, not ours
        return {"error": {"name": e.name, "message": str(e)[:4096]}}
    except LeaseLost:
        raise
    except Exception as e:
        log.exception("capability %s failed for instance %s", name, instance_id)
        return {"error": {"name": "CapabilityError", "message": f"step.{name} failed ({type(e).__name__})"}}
