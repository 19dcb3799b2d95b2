"""The `respond` node: the HTTP answer of a webhook whose trigger waits for it.

Invariant: the answer is the step's recorded output, which triggers.webhooks reads from the
step record: the webhook answers what was checkpointed, nothing else."""
from .base import NodeSpec, object_schema, step_config, value


def compile_node(node, c) -> str:
    d = node.data
    response = {"status": d.get("status", 200), "headers": d.get("headers", {}), "body": d.get("body", "{{ input }}")}
    return f"return {{ value: await step.do({c.step_name(node)}, {step_config(node, c)}, () => ({value(response)})) }};"


SPEC = NodeSpec(
    type="respond", label="Respond", group="end", retries_by_default=False,
    description="The webhook's HTTP answer (when the trigger waits for it): status, headers, body.",
    schema=object_schema({
        "status": {"type": "integer", "minimum": 100, "maximum": 599, "default": 200},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {},
    }),
    compile=compile_node,
)
