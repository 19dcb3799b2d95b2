"""The `transform` node: builds an object from fields (text, numbers, {{ }} expressions).

Invariant: evaluated inside a step, so its output is checkpointed like any step's."""
from .base import NodeSpec, object_schema, step_config, value


def compile_node(node, c) -> str:
    fields = {f["key"]: f.get("value") for f in node.data.get("fields", [])}
    return f"return {{ value: await step.do({c.step_name(node)}, {step_config(node, c)}, () => ({value(fields)})) }};"


SPEC = NodeSpec(
    type="transform", label="Transform", group="steps", retries_by_default=False,
    description="Builds an object: each field's value is text, a number, or a {{ }} expression.",
    schema=object_schema({
        "fields": {"type": "array", "items": object_schema({"key": {"type": "string", "minLength": 1}, "value": {}}, ["key"])},
    }, ["fields"]),
    compile=compile_node,
)
