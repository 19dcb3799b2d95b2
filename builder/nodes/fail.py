"""The `fail` node: fails the instance with a message.

Invariant: the failure is a NonRetryableError in a step with no retries, so it fails at once
and is recorded like any failed step."""
from .base import NodeSpec, object_schema, value


def compile_node(node, c) -> str:
    return (f"await step.do({c.step_name(node)}, {{ retries: {{ limit: 0 }} }}, () => {{ "
            f"throw new NonRetryableError(String({value(node.data.get('message', 'failed'))})); }});\n"
            "return { value: null };")


SPEC = NodeSpec(
    type="fail", label="Fail", group="end",
    description="Fails the instance with a message (no retry).",
    schema=object_schema({"message": {"type": "string", "minLength": 1}}, ["message"]),
    compile=compile_node,
)
