"""Metering of an advance: each committed batch adds what the host accepted and measured (steps,
sandbox CPU ms, HTTP calls, bytes stored) to the tenant's day, inside the batch's transaction.

Invariant: called only from engine.runner.Advance.commit, with the batch it commits; `self.metered`
holds what earlier batches of the advance already added, so nothing is counted twice.
"""
from __future__ import annotations

from typing import Any

from tenants.usage import usage_add

from .counters import COUNTERS


def meter(self: Any, cmds: list[dict], final: dict) -> None:
    """Add this batch's usage (`self`: the engine.runner.Advance committing it) to the tenant's day, in the batch's transaction."""
    cpu = self.sandbox.cpu_ms() if self.sandbox else 0
    stored = sum(len(c.get("v", "")) for c in cmds if c["t"] in ("ok", "got")) + len(final.get("output") or "")
    steps = sum(1 for c in cmds if c["t"] in ("start", "rstart"))
    COUNTERS.steps += steps
    usage_add(
        tenant_id=self.instance.tenant_id, day=self.now.date(),
        steps=steps,
        cpu_ms=cpu - self.metered.get("cpu_ms", 0),
        http_calls=self.counters.get("http", 0) - self.metered.get("http", 0),
        bytes_stored=stored,
    )
    self.metered = {"cpu_ms": cpu, "http": self.counters.get("http", 0)}
