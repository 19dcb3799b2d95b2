"""The `loop` node: runs the nodes on its body handle once per item, then continues on `done`.

Invariant: a body's step names get the item's index (`name[i]`), so every iteration has its own
checkpoints; a body's nodes connect only to each other (validation, builder.structure)."""
import json

from .base import NodeSpec, object_schema, value


def compile_node(node, c) -> str:
    concurrency = int(node.data.get("concurrency", 1))
    body = c.compile_body(node)
    return (
        f"const list = {value(node.data.get('items', ''))};\n"
        f"if (!Array.isArray(list)) throw new NonRetryableError({json.dumps(f'loop {node.id}: items is not a list')});\n"
        f"const results = await mapLimit(list, {concurrency}, async (item, index) => {{\n{c.indent(body, 1)}\n}});\n"
        'return { value: results, handle: "done" };'
    )


SPEC = NodeSpec(
    type="loop", label="Loop", group="control", step=False, handles=("body", "done"), body_handle="body",
    description="Runs the nodes on its body handle once per item (step names get [index]); then continues on done with the outputs in order.",
    schema=object_schema({
        "items": {"type": "string", "minLength": 1, "description": "e.g. {{ input.orders }}"},
        "concurrency": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1},
    }, ["items"]),
    compile=compile_node,
)
