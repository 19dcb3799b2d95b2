"""The `sleep` node: a durable sleep for a duration (step.sleep).

Invariant: a sleeping instance holds no worker, only a due time; the node takes no step.do
options (step_options=False)."""
from .base import DURATION, NodeSpec, object_schema, value

SPEC = NodeSpec(
    type="sleep", label="Sleep", group="durable", step_options=False, seed_kind="sleep", passes_input=True,
    description="Waits for a duration (up to 365 days) holding no worker; passes its input on.",
    schema=object_schema({"duration": DURATION}, ["duration"]),
    compile=lambda node, c: f"await step.sleep({c.step_name(node)}, {value(node.data.get('duration'))});\nreturn {{ value: input }};",
)
