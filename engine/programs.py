"""The per-process cache of program texts, by program hash (LRU, PROGRAM_CACHE_SIZE entries).

Invariant: a cached text is always its version's program: versions are immutable and the key is
the program's hash, so the cache is never invalidated, only trimmed.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .counters import COUNTERS

PROGRAM_CACHE_SIZE = 256
_programs: OrderedDict[str, str] = OrderedDict()  # program hash -> program text (LRU)


def program_text(version: Any) -> str:
    """The version's program, from a small per-process cache: versions never change."""
    digest = version.program_hash
    program = _programs.get(digest)
    if program is None:
        COUNTERS.program_misses += 1
        program = type(version).objects.values_list("program", flat=True).get(pk=version.pk)
        _programs[digest] = program
        if len(_programs) > PROGRAM_CACHE_SIZE:
            _programs.popitem(last=False)
            COUNTERS.program_evictions += 1
    else:
        COUNTERS.program_hits += 1
        _programs.move_to_end(digest)
    return program


def cache_clear() -> None:
    """Empty the cache (tests: each starts as a fresh worker process would)."""
    _programs.clear()


def cached() -> list[str]:
    """The cached program texts: a copy made in one C call under the GIL, as a worker's thread may
    change the LRU meanwhile."""
    return list(_programs.values())
