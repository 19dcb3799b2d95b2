"""The protocol's building blocks: checks of values from the sandbox (hostile input), a step's
resolved config, and the host's record of one step (StepState).

Invariant: every check either returns a value the host may store as it is, or raises
ProtocolViolation naming what is wrong; none of them trusts a type, a size or a key it did not test.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000
MAX_SLEEP_MS = 365 * DAY_MS
MAX_NAME = 256
MAX_TYPE = 128
MAX_ERROR_NAME = 128
MAX_ERROR_TEXT = 4096 + 256  # the runtime cuts at 4096, then adds " in step <name>"
MAX_LOG_LINE = 8192
MAX_CAPABILITY_ARGS = 4 * 1024 * 1024
MAX_JSON_DEPTH = 512
MAX_MARKS = 1000
LOG_LEVELS = {"info", "warn", "error", "debug"}
BACKOFFS = ("constant", "linear", "exponential")
LOG_LIMIT_LINE = "(log limit reached: later lines of this run are dropped)"
FINISHED = ("complete", "errored")  # a step's final statuses


class ProtocolViolation(Exception):
    """A message from the sandbox the host refuses; the instance ends with a ProtocolError."""


def fail(message: str) -> None:
    raise ProtocolViolation(message)


# ---- value checks ---------------------------------------------------------------------------------
def is_int(value: Any) -> bool:
    return type(value) is int  # not bool


def integer(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        fail(f"{what} must be an integer from {low} to {high}")
    return value


def text(value: Any, what: str, limit: int, *, empty: bool = False) -> str:
    """A name or type: a string of at most `limit` characters that is valid UTF-8 (no lone
    surrogates, no NUL: PostgreSQL stores neither)."""
    if not isinstance(value, str) or len(value) > limit or (not value and not empty) or "\x00" in value:
        fail(f"{what} must be a string of {'0' if empty else '1'} to {limit} characters without NUL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what} is not valid Unicode text")
    return value


def clean(value: str) -> str:
    """Free text (messages, logs): kept, but made storable (lone surrogates and NUL replaced)."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _no_constant(name: str) -> None:
    fail(f"JSON with {name} is not JSON")


# One decoder for every message: json.loads with an argument builds a new one per call.
DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _depth(text_: str) -> int:
    """Deepest nesting of a JSON text (brackets outside strings): checked before parsing, so a
    deep text is refused instead of hitting Python's recursion limit."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text_:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def json_text(value: Any, what: str, max_bytes: int) -> str:
    """A JSON text the host will store and later parse: valid, bounded in size and nesting."""
    if not isinstance(value, str):
        fail(f"{what} must be JSON text")
    if len(value) > max_bytes or (len(value) * 3 > max_bytes and len(value.encode("utf-8", "surrogatepass")) > max_bytes):
        fail(f"{what} is over the {max_bytes} byte limit")
    if ("[" in value or "{" in value) and len(value) > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        fail(f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        DECODER.decode(value)
    except ProtocolViolation:
        raise
    except (ValueError, RecursionError):
        fail(f"{what} is not valid JSON")
    return value


def error_info(value: Any, what: str) -> dict:
    """An error as stored on attempts, steps and instances: {name, message, stack?}."""
    if not isinstance(value, dict) or not {"name", "message"} <= value.keys() or value.keys() - {"name", "message", "stack"}:
        fail(f"{what} must be {{name, message, stack?}}")
    info = {"name": clean(text(value["name"], f"{what}.name", MAX_ERROR_NAME)),
            "message": clean(text(value["message"], f"{what}.message", MAX_ERROR_TEXT, empty=True))}
    if "stack" in value:
        info["stack"] = clean(text(value["stack"], f"{what}.stack", MAX_ERROR_TEXT, empty=True))
    return info


# ---- the host's view of the steps -------------------------------------------------------------------
@dataclass
class StepState:
    kind: str  # do | sleep | wait
    status: str  # running | retrying | waiting | complete | errored
    attempts: int = 0
    wake: int | None = None  # ms: a sleep's wake, a wait's deadline, a retry's due time
    type: str | None = None  # a wait's event type
    inflight: int | None = None  # the attempt this advance started and has not finished
    seq: int = 0  # start order: the row's id, or after every id for steps started in this advance
    config: dict | None = None  # a do step's resolved config, kept only when it registered a rollback
    output: str | None = None  # its committed result (JSON text), kept only when it registered a rollback

    @property
    def rollback(self) -> dict | None:
        """The resolved config of the step's rollback handler, when it registered one."""
        return self.config.get("rollback") if self.config else None


def _retries(value: Any, what: str) -> dict:
    if not isinstance(value, dict) or value.keys() != {"retries", "timeout"} or not isinstance(value["retries"], dict) \
            or value["retries"].keys() != {"limit", "delay", "backoff"}:
        fail(f"{what}: config must be {{retries: {{limit, delay, backoff}}, timeout}}")
    r = value["retries"]
    if r["backoff"] not in BACKOFFS:
        fail(f"{what}: unknown backoff")
    # A delay function runs in the sandbox: the host stores only that there is one.
    delay = r["delay"] if r["delay"] == "function" else integer(r["delay"], f"{what}: retries.delay", 0, MAX_SLEEP_MS)
    return {"retries": {"limit": integer(r["limit"], f"{what}: retries.limit", 0, 1000), "delay": delay, "backoff": r["backoff"]},
            "timeout": integer(value["timeout"], f"{what}: timeout", 0, MAX_SLEEP_MS)}


def config(value: Any, name: str) -> dict:
    """A step's retry policy and timeout as the runtime resolved it, and its rollback's when the
    step registered one: {retries: {limit, delay: ms | "function", backoff}, timeout, rollback?}."""
    r = value.get("retries") if type(value) is dict else None
    if (type(r) is dict and len(value) == 2 and len(r) == 3 and r.get("backoff") in BACKOFFS
            and type(r.get("limit")) is int and 0 <= r["limit"] <= 1000
            and type(r.get("delay")) is int and 0 <= r["delay"] <= MAX_SLEEP_MS
            and type(value.get("timeout")) is int and 0 <= value["timeout"] <= MAX_SLEEP_MS):
        return value  # the common case, checked in one expression; the slow path names the problem
    if not isinstance(value, dict):
        fail(f"step {name}: config must be an object")
    if "rollback" not in value:
        return _retries(value, f"step {name}")
    out = _retries({k: v for k, v in value.items() if k != "rollback"}, f"step {name}")
    out["rollback"] = _retries(value["rollback"], f"the rollback of step {name}")
    return out
