"""The per-process cache of program texts. Invariant: a version's program never changes, so an
entry is never stale; the cache is only bounded (LRU by program hash)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .heartbeat import COUNTERS

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
