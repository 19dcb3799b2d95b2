"""The `wait_event` node: waits for an event of a type (step.waitForEvent), optionally matching.

Invariant: events that arrived before the wait are kept in the inbox and taken by it; with a
`match`, non-matching events are consumed and ignored, each new wait with the full timeout."""
from .base import DURATION, NodeSpec, object_schema, value


def compile_node(node, c) -> str:
    d = node.data
    options = f"{{ type: {value(d.get('type', ''))}, timeout: {value(d.get('timeout', '24 hours'))} }}"
    match = d.get("match")
    if not match:
        return f"return {{ value: await step.waitForEvent({c.step_name(node)}, {options}) }};"
    # Events that do not match are consumed and ignored; each wait has the full timeout.
    return (
        "for (;;) {\n"
        f"  const received = await step.waitForEvent({c.step_name(node)}, {options});\n"
        f"  if (((payload) => {value(match)})(received.payload)) return {{ value: received }};\n"
        "}"
    )


SPEC = NodeSpec(
    type="wait_event", label="Wait for event", group="durable", step_options=False, seed_kind="wait",
    description="Waits for an event of a type sent to the instance (kept if it arrived earlier); output { type, payload, timestamp }.",
    schema=object_schema({
        "type": {"type": "string", "minLength": 1},
        "timeout": DURATION,
        "match": {"type": "string", "description": "optional condition on payload, e.g. {{ payload.orderId === input.id }}"},
    }, ["type"]),
    compile=compile_node,
)
