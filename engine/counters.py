"""This process's engine counters: the runner and the program cache bump them, the heartbeat
(engine.heartbeat) writes them out. Plain in-process integers, never touched per step by anything
slower than `+=`, and lost with the process (they are for operators; tenants.Usage is the exact
record)."""
from dataclasses import asdict, dataclass


@dataclass
class Counters:
    """This process's totals since it started (plain ints: the GIL makes += safe enough here)."""

    advances: int = 0
    steps: int = 0
    recoveries: int = 0
    lost_attempts: int = 0
    program_hits: int = 0
    program_misses: int = 0
    program_evictions: int = 0
    snapshot_resumes: int = 0  # advances resumed from an image (engine.snapshots)
    snapshot_stale: int = 0  # stored images not used (mismatched, damaged, not resumable): replayed


COUNTERS = Counters()


def counters_reset() -> None:
    """Zero this process's counters (tests: each starts as a fresh worker process would)."""
    for name, value in asdict(Counters()).items():
        setattr(COUNTERS, name, value)
