"""Host capabilities: the only things a program can ask of the host, as `step.<name>(args)`.

A capability is a callable taking one `Call` and returning a JSON value (or raising: the error
becomes the calling step's error, with its message). It runs in the worker, outside the sandbox,
after every step the program finished before the call has been committed. A CONCURRENT one runs
in a thread of the advance while the program goes on; its result reaches the program later.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from django.conf import settings
from django.utils.module_loading import import_string


class CapabilityError(Exception):
    """A refusal or failure to report to the program as a typed error (`name` is the JS error name)."""

    name = "CapabilityError"

    def __init__(self, message: str, name: str | None = None):
        super().__init__(message)
        if name:
            self.name = name


@dataclass
class Call:
    tenant: Any
    instance: Any
    args: Any
    plan: Any  # tenants.limits.TenantLimits
    step: str | None = None  # the calling step, when only one was in flight
    counters: dict[str, int] = field(default_factory=dict)  # per advance: "http" -> calls made
    secrets: set[str] = field(default_factory=set)  # values to redact from everything this advance writes
    # Unique per (instance, step, occurrence, attempt, call): sent as the Idempotency-Key of step.http.
    idempotency_key: str | None = None
    # Raises (engine.lease.LeaseLost) once this worker's lease may have expired: called right
    # before anything leaves the worker, so a paused worker causes no side effect after its lease.
    fence: Callable[[], None] = lambda: None
    # Guards `counters`: concurrent capabilities (CONCURRENT) run in threads of the advance.
    lock: threading.Lock = field(default_factory=threading.Lock)


def registry() -> dict[str, Any]:
    return {name: import_string(path) for name, path in settings.ENGINE_CAPABILITIES.items()}


# Capabilities with no side effects: calling one does not force the next step to commit first.
PURE = {"secret"}
# Capabilities that may run in a thread while the program goes on (and beside each other): they
# touch no database connection and share nothing of the advance but `Call.counters` (under
# `Call.lock`). Calls started together (`Promise.all`) then overlap, up to the plan's
# `http_concurrency` at a time in one advance. Every other capability runs on the advance's thread.
CONCURRENT = {"http"}
