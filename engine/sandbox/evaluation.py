"""One-off evaluations outside any program (e.g. the builder's syntax check of a graph's code and
expressions): a fresh pooled context, a time limit, then the context is thrown away.

Invariant: nothing evaluated here sees a program, a step API or the host: the context is fresh
(the prelude only) and is closed after the one evaluation, whatever it did.
"""
from quickjs_rs.errors import QuickJSError

from .runtime import POOL


class EvaluationError(Exception):
    """The source threw, or hit the time or memory limit: QuickJS's message."""


def evaluate(source: str, *, timeout_seconds: float) -> str:
    """The value of the JavaScript expression `source` (a string: JSON.stringify it inside);
    EvaluationError if it throws or runs out of time or memory."""
    runtime, ctx = POOL.take()
    try:
        ctx._timeout = timeout_seconds  # quickjs-rs's deadline slot, as ProgramRun sets it
        return ctx.eval(source)
    except QuickJSError as e:
        raise EvaluationError(getattr(e, "message", None) or str(e)) from e
    finally:
        ctx.close()
        runtime.close()
