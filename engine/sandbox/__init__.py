"""The sandbox's public face: everything outside engine/sandbox/ imports from here, never from its
modules (.importlinter's "sandbox" contract): what runs a program (ProgramRun, Limits and the
errors), the host's check of the program's messages (Session, StepState, ProtocolLimits,
ProtocolViolation), whether a program loads (program_problem), the pool of fresh contexts (POOL),
warming, one-off evaluations (evaluate), and images of a blocked program (images: encode, decode,
build, ImageError)."""
from .check import ProgramProblem, program_problem
from .evaluation import EvaluationError, evaluate
from .images import ImageError
from .images import build as image_build
from .images import decode as image_decode
from .images import encode as image_encode
from .protocol import Limits as ProtocolLimits
from .protocol import ProtocolViolation, Session, StepState, clean
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
    "EvaluationError", "ProgramProblem", "evaluate", "prelude_image", "program_problem", "warm_guest",
    "ProtocolLimits", "ProtocolViolation", "Session", "StepState", "clean", "ImageError", "image_build", "image_decode", "image_encode",
]
