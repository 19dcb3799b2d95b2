"""The node catalog: one module per node type (see base.NodeSpec). Adding a type: a module here,
its name in MODULES, a golden test in tests/builder/test_nodes.py."""
from importlib import import_module

from .base import GROUPS, NodeSpec

MODULES = (
    "manual", "webhook", "schedule", "code", "http", "transform", "branch", "switch", "merge", "loop",
    "sleep", "sleep_until", "wait_event", "approval", "subworkflow", "respond", "fail",
)
CATALOG: dict[str, NodeSpec] = {m: import_module(f"{__name__}.{m}").SPEC for m in MODULES}
CHECKS = {m: getattr(import_module(f"{__name__}.{m}"), "check") for m in MODULES
          if hasattr(import_module(f"{__name__}.{m}"), "check")}


def catalog() -> list[dict]:
    """The node types for the editor's palette and forms."""
    return [
        {"type": s.type, "label": s.label, "group": s.group, "description": s.description, "trigger": s.trigger,
         "step": s.step, "schema": s.json_schema(),
         "handles": None if callable(s.handles) else [h for h in s.handles if h is not None],
         "dynamic_handles": callable(s.handles), "code_fields": list(s.code_fields),
         "merges": s.merges, "body_handle": s.body_handle, "passes_input": s.passes_input,
         "handle_from_output": s.handle_from_output, "seed_kind": s.seed_kind if s.step else None}
        for s in sorted(CATALOG.values(), key=lambda s: (GROUPS.index(s.group), s.type))
    ]
