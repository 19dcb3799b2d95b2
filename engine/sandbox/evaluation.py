"""One-off evaluations outside any program (e.g. the builder's syntax check of a graph's code and
expressions): a fresh pooled context, a time limit, then the context is thrown away.

Invariant: nothing evaluated here sees a program, a step API or the host: the context is fresh
(the prelude only) and is closed after the one evaluation, whatever it did.
"""
from .runtime import POOL


def evaluate(source: str, *, timeout_seconds: float) -> str:
    """The value of the JavaScript expression `source` (a string: JSON.stringify it inside), or the
    quickjs-rs error it raised (a timeout raises too)."""
    runtime, ctx = POOL.take()
    try:
        ctx._timeout = timeout_seconds  # quickjs-rs's deadline slot, as ProgramRun sets it
        return ctx.eval(source)
    finally:
        ctx.close()
        runtime.close()
