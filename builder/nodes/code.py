"""The `code` node: the tenant's JavaScript, run inside a step.

Invariant: the code runs only as a step.do body, so its result is checkpointed and never re-run
once committed; it sees `event`, `input` and `steps`, nothing of the host."""
from .base import NodeSpec, object_schema, step_config


def compile_node(node, c) -> str:
    undo = node.data.get("rollback")
    config = step_config(node, c)
    # "On failure, undo with": the step's rollback handler (engine: step.do's trailing options),
    # run if the instance fails after this step completed; it sees output, error, ctx and input,
    # and retries as the node's step does.
    options = (f", {{ rollback: async ({{ ctx, output, error }}) => {{\n{c.indent(undo, 2)}\n}}, rollbackConfig: {config} }}"
               if isinstance(undo, str) and undo.strip() else "")
    return (
        f"return {{ value: await step.do({c.step_name(node)}, {config}, async () => {{\n"
        f"{c.indent(node.data.get('code', ''), 2)}\n"
        f"}}{options}) }};"
    )


SPEC = NodeSpec(
    type="code", label="Code", group="steps",
    description="JavaScript; sees event, input (the upstream output), steps (outputs by node id); returns the output.",
    schema=object_schema({
        "code": {"type": "string", "default": "return input;"},
        "rollback": {"type": "string", "title": "On failure, undo with",
                     "description": "Runs if the workflow fails after this step succeeded (latest step first), "
                                    "with this step's retries: sees output (this step's result), error, ctx and input."},
    }, ["code"]),
    compile=compile_node, code_fields=("code", "rollback"),
)
