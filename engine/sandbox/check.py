"""Does a program load? Checked before a version is stored, so a program that cannot run is never
published (a version's program would otherwise fail every instance that starts on it).

The program is compiled and linked as a module in a fresh sandbox context, but never run: a
first import, hoisted before everything the program does, evaluates a module that throws. So a
syntax error or an unknown import is reported with QuickJS's line and column, and none of the
program's top-level code executes in the host's process.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import quickjs_rs

from .runtime import COMPAT_MODULES, POOL

STOP = "__program_check_stop__"
WHERE = re.compile(r"at program:(\d+):(\d+)")


@dataclass(frozen=True)
class ProgramProblem:
    message: str
    line: int | None = None
    column: int | None = None


def program_problem(program: str) -> ProgramProblem | None:
    """None when `program` compiles and its imports resolve; else what QuickJS said, and where."""
    modules = {"program": f'import "{STOP}";\n' + program,  # its own line: the program's lines shift by one
               STOP: f'throw new Error("{STOP}");', **COMPAT_MODULES}
    runtime, ctx = POOL.take()
    try:
        ctx._timeout = 5.0
        runtime.set_module_loader(load=lambda name: modules.get(name))
        try:
            ctx.eval_handle('import "program";', module=True, filename="check.js").dispose()
        except quickjs_rs.JSError as e:
            message = (str(e).splitlines() or [type(e).__name__])[0][:2000]
            if STOP in message:
                return None
            found = WHERE.search(getattr(e, "stack", "") or "")
            if found:
                return ProgramProblem(message, max(int(found.group(1)) - 1, 1), int(found.group(2)))
            return ProgramProblem(message)
        return None
    finally:
        ctx.close()
        runtime.close()
