"""The `code` node: the tenant's JavaScript, run inside a step.

Invariant: the code runs only as a step.do body, so its result is checkpointed and never re-run
once committed; it sees `event`, `input` and `steps`, nothing of the host."""
from .base import NodeSpec, object_schema, step_config


def compile_node(node, c) -> str:
    return (
        f"return {{ value: await step.do({c.step_name(node)}, {step_config(node, c)}, async () => {{\n"
        f"{c.indent(node.data.get('code', ''), 2)}\n"
        f"}}) }};"
    )


SPEC = NodeSpec(
    type="code", label="Code", group="steps",
    description="JavaScript; sees event, input (the upstream output), steps (outputs by node id); returns the output.",
    schema=object_schema({"code": {"type": "string", "default": "return input;"}}, ["code"]),
    compile=compile_node, code_fields=("code",),
)
