"""The `merge` node: joins branches (NodeSpec.merges).

Invariant: the only kind of node with more than one input; it waits for every incoming branch
that was taken and outputs {source node id: output}."""
from .base import NodeSpec, object_schema

SPEC = NodeSpec(
    type="merge", label="Merge", group="control", step=False, merges=True, passes_input=True,
    description="Waits for every incoming branch that was taken; output: { sourceNodeId: output }.",
    schema=object_schema({}),
    compile=lambda node, c: "return { value: input };",
)
