"""The `sleep_until` node: a durable sleep until a date (step.sleepUntil).

Invariant: as `sleep`: a due time, no worker; no step.do options (step_options=False)."""
from .base import NodeSpec, object_schema, value

SPEC = NodeSpec(
    type="sleep_until", label="Sleep until", group="durable", step_options=False, seed_kind="sleep", passes_input=True,
    description="Waits until a date (an ISO string, a Date or milliseconds); passes its input on.",
    schema=object_schema({"until": {"type": "string", "minLength": 1}}, ["until"]),
    compile=lambda node, c: f"await step.sleepUntil({c.step_name(node)}, {value(node.data.get('until'))});\nreturn {{ value: input }};",
)
