"""Untrusted JSON in, checked once, before anything else walks it.

Invariant: a value that passed `json_checked` is at most MAX_DEPTH deep and holds no string (key or
value) with U+0000 or a lone surrogate, so every later recursive walk (validation, expressions,
json.dumps) stays far from Python's recursion limit, and every store (SQLite text, PostgreSQL
jsonb, UTF-8 encoders) accepts it. The walk itself is iterative: a depth bomb costs one pass.
"""
from __future__ import annotations

import json
import re
from typing import Any

from .errors import InvalidInput

MAX_DEPTH = 64
# U+0000 (PostgreSQL refuses it in text and jsonb) and UTF-16 surrogates, which JSON's \ud800 can
# smuggle into a Python str although no UTF-8 text can hold them.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _path(parts: list) -> str:
    return ".".join(str(p) for p in parts) or "body"


def _acceptable(value: Any) -> bool:
    """The fast pass (no paths kept): webhooks run it twice a delivery."""
    search = UNSTORABLE.search
    stack = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is str:
            if search(item):
                return False
        elif kind is dict:
            if depth >= MAX_DEPTH:
                return False
            for k, v in item.items():
                if search(k):
                    return False
                if type(v) in (str, dict, list):
                    push((v, depth + 1))
        elif kind is list:
            if depth >= MAX_DEPTH:
                return False
            for v in item:
                if type(v) in (str, dict, list):
                    push((v, depth + 1))
        elif isinstance(item, (str, dict, list)):  # subclasses: the careful pass
            return False
    return True


def json_checked(value: Any, field: str = "body") -> Any:
    """Return `value` unchanged, or raise InvalidInput naming where it is too deep or unstorable."""
    if _acceptable(value):
        return value
    stack: list[tuple[Any, int, list]] = [(value, 0, [field] if field else [])]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise InvalidInput(_path(path), f"{_path(path)} holds U+0000 or a lone surrogate, which cannot be stored")
            continue
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise InvalidInput(_path(path), f"{_path(path)} is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for k, v in item.items():
                    if isinstance(k, str) and UNSTORABLE.search(k):
                        raise InvalidInput(_path(path), f"a key in {_path(path)} holds U+0000 or a lone surrogate")
                    stack.append((v, depth + 1, path + [k] if depth < 8 else path))
            else:
                stack.extend((v, depth + 1, path + [n] if depth < 8 else path) for n, v in enumerate(item))
    return value


def plainly_fine(text: str | bytes) -> bool:
    """True when the JSON text cannot hide a problem: no escape at all (so no \\u0000 or lone
    surrogate; the parser refuses raw NULs in strings), no byte 0xED (json.loads decodes bytes with
    surrogatepass, so an encoded surrogate would get through) and fewer brackets than MAX_DEPTH.
    The common case, checked at C speed; the walk covers the rest."""
    if isinstance(text, bytes):
        return b"\\" not in text and b"\xed" not in text and text.count(b"[") + text.count(b"{") < MAX_DEPTH
    return "\\" not in text and text.count("[") + text.count("{") < MAX_DEPTH


def json_loads_checked(text: str | bytes, field: str = "body") -> Any:
    """json.loads, then json_checked. A nesting too deep even for the parser is the same 422."""
    try:
        value = json.loads(text)
    except RecursionError:  # too deep for the parser itself: where exactly is unknown
        field = field or "body"
        raise InvalidInput(field, f"{field} is nested deeper than {MAX_DEPTH} levels") from None
    return value if plainly_fine(text) else json_checked(value, field)


def json_dumps_checked(value: Any, field: str) -> str:
    """json.dumps of a value from anywhere (a service's caller, the sandbox), checked the same way."""
    try:
        text = json.dumps(value, allow_nan=False)  # NaN and Infinity are not JSON: the databases refuse them
    except RecursionError:
        raise InvalidInput(field, f"{field} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise InvalidInput(field, f"{field} must be JSON (NaN and Infinity are not)") from None
    if not plainly_fine(text):  # ensure_ascii: every NUL, surrogate or non-ASCII character is escaped
        json_checked(value, field)
    return text
