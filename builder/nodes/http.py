"""The `http` node: one HTTP call, made by the host (step.http) inside a step.

Invariant: the request goes through the engine's `http` capability (SSRF checks, plan limits);
the node only shapes its arguments."""
from .base import NodeSpec, object_schema, step_config, value


def compile_node(node, c) -> str:
    d = node.data
    request = {"url": d.get("url", ""), "method": d.get("method", "GET")}
    if d.get("headers"):
        request["headers"] = d["headers"]
    if d.get("json") is not None:
        request["json"] = d["json"]
    elif d.get("body") is not None:
        request["body"] = d["body"]
    return f"return {{ value: await step.do({c.step_name(node)}, {step_config(node, c)}, () => step.http({value(request)})) }};"


SPEC = NodeSpec(
    type="http", label="HTTP request", group="steps",
    description="An HTTP call made by the host (SSRF-safe); output { status, ok, headers, body, json? }.",
    schema=object_schema({
        "url": {"type": "string", "minLength": 1},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], "default": "GET"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "json": {"description": "a JSON body (values may hold {{ }} expressions)"},
        "body": {"type": "string"},
    }, ["url"]),
    compile=compile_node,
)
