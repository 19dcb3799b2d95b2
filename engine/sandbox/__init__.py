"""The sandbox's public face: everything outside engine/sandbox/ imports from here, never from its
modules (.importlinter's "sandbox" contract): what runs a program (ProgramRun, Limits and the
errors), the pool of fresh contexts (POOL), warming, and one-off evaluations (evaluate)."""
from .evaluation import EvaluationError, evaluate
from .runtime import (
    POOL,
    ContextPool,
    Limits,
    ProgramLoadError,
    ProgramRun,
    SandboxLimit,
    default_limits,
    prelude_image,
    warm_guest,
)

__all__ = [
    "POOL", "ContextPool", "Limits", "ProgramLoadError", "ProgramRun", "SandboxLimit", "default_limits",
    "EvaluationError", "evaluate", "prelude_image", "warm_guest",
]
