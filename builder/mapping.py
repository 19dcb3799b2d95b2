"""The compiled program's map back to the graph: which node, config field and line within the field
produced each generated line (engine.sourcemap reads it to translate stack frames).

Invariants:
- Derived from the program text and the graph only, so it is as deterministic as the program.
- A node's block runs from its `const nX = node(steps, "<id>", ...` line to the `});` at the same
  indent (the compiler's layout); a code field's lines are found inside it as written, each
  indented alike; an expression is found on the generated line that holds its source, with the
  columns it spans there (several expressions may share a line).
"""
from __future__ import annotations

import json
import re

from engine.sourcemap import Range, encode

from .expressions import EXPR
from .graph import Graph
from .nodes import CATALOG

NODE_START = re.compile(r'^( *)const n\d+ = node\(steps, ("(?:[^"\\]|\\.)*"), ')


def _blocks(lines: list[str]) -> list[tuple[str, int, int]]:
    """(node id, first, last) 0-based line indexes of each node's block."""
    blocks, open_ = [], []
    for i, line in enumerate(lines):
        m = NODE_START.match(line)
        if m:
            open_.append((json.loads(m.group(2)), i, m.group(1) + "});"))
        elif open_ and line == open_[-1][2]:
            node_id, first, _ = open_.pop()
            blocks.append((node_id, first, i))
    return blocks


def _code_ranges(lines: list[str], first: int, last: int, node_id: str, field: str, code: str) -> list[Range]:
    src = code.splitlines()
    k0 = next((k for k, line in enumerate(src) if line.strip()), None)
    if k0 is None:
        return []
    for g in range(first + k0, last + 1):
        gen = lines[g]
        if not gen.endswith(src[k0]) or gen[: len(gen) - len(src[k0])].strip(" "):
            continue
        pad = gen[: len(gen) - len(src[k0])]
        top = g - k0
        if top + len(src) - 1 > last:
            break
        if all(lines[top + j] == (pad + s if s.strip() else s) for j, s in enumerate(src)):
            # QuickJS places some errors (a TypeError on a property read) at the start of the
            # function they happen in: the line opening the field's wrapper names the field, no line.
            return [Range(top + 1, top + len(src), node_id, field, 1, len(pad)), Range(top, top, node_id, field, 0, 0)]
    return []


def _expressions(value, field: str):
    """(field, expression source, its line and 0-based column in the field's text) in a config value."""
    if isinstance(value, str):
        for m in EXPR.finditer(value):
            source = m.group(1).strip()
            if not source:
                continue
            offset = m.start(1) + m.group(1).index(source)
            line_start = value.rfind("\n", 0, offset) + 1
            yield field, source, value.count("\n", 0, offset) + 1, offset - line_start
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v, field)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _expressions(v, field)


def node_ranges(program: str, graph: Graph) -> list[Range]:
    lines = program.split("\n")
    ranges: list[Range] = []
    for node_id, first, last in _blocks(lines):
        node = graph.nodes.get(node_id)
        if node is None:
            continue
        ranges.append(Range(first + 1, last + 1, node_id, None, 1, 0))
        spec = CATALOG.get(node.type)
        code_fields = set(spec.code_fields) if spec else set()
        for field in sorted(node.data):
            value = node.data[field]
            if field in code_fields and isinstance(value, str):
                ranges.extend(_code_ranges(lines, first, last, node_id, field, value))
                continue
            for f, source, line, col in _expressions(value, field):
                for g in range(first, last + 1):
                    at = lines[g].find(source)
                    if at >= 0:
                        # Columns are 1-based in frames: generated column at+1 is field column col+1.
                        ranges.append(Range(g + 1, g + 1, node_id, f, line, at - col, at + 1, at + len(source) + 1))
                        break
    return ranges


def with_map(program: str, graph: Graph) -> str:
    """The program with its map appended as its last line."""
    return program + encode(node_ranges(program, graph)) + "\n"
