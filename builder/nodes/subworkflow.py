"""The `subworkflow` node: starts an instance of another workflow of the tenant (the
`startWorkflow` capability, triggers.capabilities) and, unless told not to, waits for its result.

Invariant: the child is started inside a step (at most once per checkpoint) and its end reaches
the parent as the event `child:<id>`, written with the child's final status."""
from .base import DURATION, NodeSpec, object_schema, step_config, value


def compile_node(node, c) -> str:
    d = node.data
    start = (f"await step.do({c.step_name(node)}, {step_config(node, c)}, () => step.startWorkflow("
             f"{{ workflow: {value(d.get('workflow', ''))}, params: {value(d.get('params', '{{ input }}'))}, node: {c.step_name(node)} }}))")
    if not d.get("wait", True):
        return f"return {{ value: {start} }};"
    return (
        f"const child = {start};\n"
        f"const done = await step.waitForEvent({c.step_name(node)} + \".result\", {{ type: \"child:\" + child.id, timeout: {value(d.get('timeout', '365 days'))} }});\n"
        'if (done.payload.status !== "complete") throw new NonRetryableError(`child workflow ${child.workflow} ${done.payload.status}: ${done.payload.error?.message ?? ""}`);\n'
        "return { value: done.payload.output };"
    )


SPEC = NodeSpec(
    type="subworkflow", label="Sub-workflow", group="durable", seed_kind=None,
    description="Starts an instance of another workflow of this tenant; waits for its result (or not).",
    schema=object_schema({
        "workflow": {"type": "string", "minLength": 1, "description": "the other workflow's slug"},
        "params": {"description": "the child's params (default: this node's input)"},
        "wait": {"type": "boolean", "default": True},
        "timeout": DURATION,
    }, ["workflow"]),
    compile=compile_node,
)
