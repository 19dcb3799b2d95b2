"""The `manual` trigger: an instance started from the editor or the API.

Invariant: not a step; its output is the instance's params, unchanged."""
from .base import NodeSpec, object_schema

SPEC = NodeSpec(
    type="manual", label="Manual start", group="triggers", trigger=True, step=False,
    description="Started from the editor or the API; its output is the instance's params.",
    schema=object_schema({}),
    compile=lambda node, c: "return { value: event.payload };",
)
