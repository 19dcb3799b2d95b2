"""The `switch` node: continues on the first case whose condition holds, else on `default`.

Invariant: the chosen handle is a step's recorded output, so a replay takes the same case."""
import json

from .base import NodeSpec, object_schema, step_config, value


def handles(data: dict) -> tuple[str, ...]:
    return tuple(c.get("id") for c in data.get("cases", []) if isinstance(c, dict)) + ("default",)


def compile_node(node, c) -> str:
    cases = [f"if ({value(case.get('condition', ''))}) return {json.dumps(case.get('id'))};" for case in node.data.get("cases", [])]
    body = " ".join(cases) + ' return "default";'
    return (
        f"const handle = await step.do({c.step_name(node)}, {step_config(node, c)}, () => {{ {body} }});\n"
        "return { value: input, handle };"
    )


SPEC = NodeSpec(
    type="switch", label="Switch", group="control", retries_by_default=False, handles=handles,
    passes_input=True, handle_from_output="value",
    description="Continues on the first case whose condition holds, else on default.",
    schema=object_schema({
        "cases": {"type": "array", "minItems": 1, "items": object_schema({
            "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}, "condition": {"type": "string", "minLength": 1},
        }, ["id", "condition"])},
    }, ["cases"]),
    compile=compile_node,
)
