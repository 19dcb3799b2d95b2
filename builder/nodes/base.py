"""What every node type module provides, and the pieces they share.

A node type is a module in builder/nodes/ with one `SPEC`: its label and group for the palette,
the JSON Schema of its `data` (served to the editor, enforced by validation), its output handles,
and `compile(node, c)`, which returns the body of the node's async function: JavaScript that reads
`input` (the upstream output) and returns `{ value, handle? }`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..expressions import to_js

GROUPS = ("triggers", "steps", "control", "durable", "end")

DURATION = {"description": "e.g. \"30 seconds\", \"2 hours\", \"1 day\", or milliseconds",
            "oneOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}]}
STEP_CONFIG = {
    "retries": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
            "delay": DURATION,
            "backoff": {"enum": ["constant", "linear", "exponential"]},
        },
    },
    "timeout": DURATION,
}


@dataclass(frozen=True)
class NodeSpec:
    type: str
    label: str
    group: str
    description: str
    schema: dict
    compile: Callable[[Any, Any], str]
    handles: tuple[str, ...] | Callable[[dict], tuple[str, ...]] = (None,)
    step: bool = True  # recorded as a step (its id is the step name)
    trigger: bool = False
    # Deterministic nodes fail the same way every time: no retries unless the user asks.
    retries_by_default: bool = True
    code_fields: tuple[str, ...] = field(default=())  # fields holding JavaScript function bodies
    # Takes step.do's options (retries, timeout); durable waits (sleeps, events) take their own.
    step_options: bool = True
    # Joins several incoming branches (the only kind of node that may have more than one input).
    merges: bool = False
    # The handle whose nodes run once per item, with their own step names (a loop's body).
    body_handle: str | None = None
    # Its value is its input, passed on (control nodes, sleeps): the live view shows that input.
    passes_input: bool = False
    # How the output handle it took follows from its step's recorded output (the live view):
    # "boolean" (true/false), "value" (the output names the handle), "decision" (an approval's
    # event payload, or its default decision on timeout); None when it has one output handle.
    handle_from_output: str | None = None
    # The kind of step record a test run may seed for it with given data instead of running it
    # (engine.seeding): "do", "sleep" or "wait"; None when it cannot be seeded (not a step, or
    # more than one step, as a sub-workflow's start and its wait for the child).
    seed_kind: str | None = "do"

    def output_handles(self, data: dict) -> tuple[str | None, ...]:
        return self.handles(data) if callable(self.handles) else self.handles

    def json_schema(self) -> dict:
        props = dict(self.schema.get("properties", {}))
        props["label"] = {"type": "string", "maxLength": 200}
        if self.step and self.step_options:
            props.update(STEP_CONFIG)
        return {**self.schema, "type": "object", "properties": props}


def object_schema(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


def step_config(node, c) -> str:
    """The step.do config for a node: the user's retries/timeout, or the node type's default."""
    data = node.data
    config: dict[str, Any] = {}
    if "retries" in data:
        config["retries"] = data["retries"]
    elif not c.spec(node).retries_by_default:
        config["retries"] = {"limit": 0}
    if "timeout" in data:
        config["timeout"] = data["timeout"]
    return json.dumps(config, sort_keys=True)


def value(v: Any) -> str:
    return to_js(v)
