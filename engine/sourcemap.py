"""Where an error happened, in the tenant's terms: stack frames translated by the host.

QuickJS names every frame of the program `program:<line>:<column>`. For a code-first program that is
the tenant's own source, so a frame becomes "line 12, column 5". A program compiled from a drawn
graph ends with a map (`//# workflow-map=<json>`, written by builder.compiler) from its generated
lines to the node, the config field and the line within the field that produced them; a frame there
becomes "node fetch_order, field code, line 3, column 5", and a frame in the compiler's glue code
names only its node (or "workflow runtime"), never the generated module's position.

Invariants:
- The stack text comes from the sandbox: it is tenant data, used for display only. It is parsed
  line by line with bounded patterns, each frame's numbers are bounded, and what is stored is the
  rewritten text plus `frames` built here; nothing of it decides anything else.
- The map comes from the program text (the version's, immutable): for a code-first program it is
  the tenant's too (the builder refuses a code-first program that carries one), so it is validated
  and only ever changes how a frame is described.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

MARKER = "//# workflow-map="
MAX_FRAMES = 32
MAX_MAP_BYTES = 2 * 1024 * 1024
FRAME = re.compile(r"^\s*at (?P<fn>[^()\n]{0,200}?) ?\(program:(?P<line>\d{1,7}):(?P<col>\d{1,7})\)\s*$")


@dataclass(frozen=True)
class Range:
    """Generated lines [start, end] (1-based) that came from `node` (and its `field`, whose line
    `field_line` is `start`, 0 when the line is not known); columns shift by `col_shift`. `col_from`..`col_to` (1-based, 0 = any)
    narrow a range to part of a line (an expression among others on the line)."""

    start: int
    end: int
    node: str
    field: str | None
    field_line: int
    col_shift: int
    col_from: int = 0
    col_to: int = 0

    def holds(self, line: int, col: int) -> bool:
        return self.start <= line <= self.end and (self.col_to == 0 or self.col_from <= col <= self.col_to)

    def width(self) -> tuple[int, int]:
        return (self.end - self.start, (self.col_to - self.col_from) if self.col_to else 1 << 30)


def encode(ranges: list[Range]) -> str:
    """The map's trailer line (the compiler appends it to a program)."""
    rows = [[r.start, r.end, r.node, r.field, r.field_line, r.col_shift, r.col_from, r.col_to] for r in ranges]
    return MARKER + json.dumps({"v": 1, "ranges": rows}, separators=(",", ":"), ensure_ascii=False)


def _valid_row(row) -> bool:
    return (isinstance(row, list) and len(row) == 8
            and all(isinstance(row[i], int) and not isinstance(row[i], bool) and 0 <= row[i] < 10**7 for i in (0, 1, 4, 6, 7))
            and isinstance(row[5], int) and not isinstance(row[5], bool) and -10**4 < row[5] < 10**4
            and isinstance(row[2], str) and 0 < len(row[2]) <= 256
            and (row[3] is None or (isinstance(row[3], str) and 0 < len(row[3]) <= 128)))


@lru_cache(maxsize=128)
def ranges_of(program: str) -> tuple[Range, ...] | None:
    """The program's map, or None for a program without one (code-first). A malformed map is none."""
    at = program.rfind("\n" + MARKER)
    if at < 0:
        return None
    text = program[at + 1 + len(MARKER):].split("\n", 1)[0]
    if len(text) > MAX_MAP_BYTES:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    rows = data.get("ranges") if isinstance(data, dict) and data.get("v") == 1 else None
    if not isinstance(rows, list) or not all(_valid_row(r) for r in rows):
        return None
    return tuple(Range(*r) for r in rows)


def place(ranges: tuple[Range, ...] | None, line: int, col: int) -> dict:
    """One frame position in the tenant's terms: {line, column} of a code-first program, or
    {node, field?, line?, column?} of a drawn one ({} in the compiler's own code)."""
    if ranges is None:
        return {"line": line, "column": col}
    found = [r for r in ranges if r.holds(line, col)]
    if not found:
        return {}
    r = min(found, key=Range.width)
    if r.field is None:
        return {"node": r.node}
    if r.field_line == 0:  # somewhere in the field (QuickJS gave its function's start)
        return {"node": r.node, "field": r.field}
    return {"node": r.node, "field": r.field, "line": line - r.start + r.field_line, "column": max(1, col - r.col_shift)}


def describe(where: dict) -> str:
    if "node" in where:
        if "line" in where:
            return f"node {where['node']}, {where['field']} line {where['line']}, column {where['column']}"
        return f"node {where['node']}, {where['field']}" if "field" in where else f"node {where['node']}"
    if "line" in where:
        return f"line {where['line']}, column {where['column']}"
    return "workflow runtime"


def locate(info: dict, program: str) -> dict:
    """An error as the host stores it, its stack's `program:L:C` frames translated (text and
    `frames`). Frames of the runtime or of other modules are left out, as before."""
    stack = info.get("stack")
    if not isinstance(stack, str) or not stack:
        return info
    ranges = ranges_of(program)
    lines, frames = [], []
    for raw in stack.split("\n")[:MAX_FRAMES]:
        m = FRAME.match(raw)
        if m is None:
            continue
        where = place(ranges, int(m["line"]), int(m["col"]))
        fn = m["fn"].strip()
        # A drawn workflow's functions are the compiler's (anonymous wrappers): only the place says anything.
        named = fn if fn and fn != "<anonymous>" and (ranges is None or "field" in where) else ""
        if ranges is not None and not where and frames and not frames[-1]:
            continue  # consecutive frames in the compiler's glue: one says it
        frames.append({**({"function": named} if named else {}), **where})
        lines.append(f"    at {named + ' ' if named else ''}({describe(where)})")
    return {**info, "stack": "\n".join(lines), "frames": frames}
