"""The `approval` node: waits for a person's decision (signed links or the approval API).

Invariant: a decision is an event of type `approval:<step name>` consumed by the node's own
waitForEvent; on timeout the node takes its `default_decision`, never hangs."""
import json

from .base import DURATION, NodeSpec, object_schema, value


def compile_node(node, c) -> str:
    d = node.data
    timeout = value(d.get("timeout", "7 days"))
    default = json.dumps(d.get("default_decision", "reject"))
    return (
        "let decision;\n"
        "try {\n"
        f"  const received = await step.waitForEvent({c.step_name(node)}, {{ type: \"approval:\" + {c.step_name(node)}, timeout: {timeout} }});\n"
        "  decision = { ...received.payload, timedOut: false };\n"
        "} catch (e) {\n"
        '  if (e.name !== "WaitTimeoutError") throw e;\n'
        f"  decision = {{ decision: {default}, timedOut: true }};\n"
        "}\n"
        'return { value: decision, handle: decision.decision === "approve" ? "approved" : "rejected" };'
    )


SPEC = NodeSpec(
    type="approval", label="Approval", group="durable", step_options=False, seed_kind="wait", handles=("approved", "rejected"),
    handle_from_output="decision",
    description="Waits for a person to approve or reject through links signed for this instance; on timeout takes the default decision.",
    schema=object_schema({
        "message": {"type": "string"},
        "timeout": DURATION,
        "default_decision": {"enum": ["approve", "reject"], "default": "reject"},
    }),
    compile=compile_node,
)
