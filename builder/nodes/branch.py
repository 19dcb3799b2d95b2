"""The `branch` node (if / else): continues on `true` or `false`.

Invariant: the condition is evaluated once, inside a step, so a replay takes the recorded branch
even if the expression would now evaluate differently."""
from .base import NodeSpec, object_schema, step_config, value


def compile_node(node, c) -> str:
    condition = value(node.data.get("condition", ""))
    return (
        f"const taken = await step.do({c.step_name(node)}, {step_config(node, c)}, () => Boolean({condition}));\n"
        f"return {{ value: input, handle: taken ? \"true\" : \"false\" }};"
    )


SPEC = NodeSpec(
    type="branch", label="If / else", group="control", retries_by_default=False, handles=("true", "false"),
    passes_input=True, handle_from_output="boolean",
    description="Continues on the true or the false handle; passes its input on.",
    schema=object_schema({"condition": {"type": "string", "minLength": 1, "description": "e.g. {{ input.total > 100 }}"}}, ["condition"]),
    compile=compile_node,
)
