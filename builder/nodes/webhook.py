"""The `webhook` trigger: instances started by POST /hooks/<tenant>/<workflow> (triggers.webhooks).

Invariant: not a step; its output is the request as the payload (method, headers without
credentials, query, body)."""
from .base import NodeSpec, object_schema

SPEC = NodeSpec(
    type="webhook", label="Webhook", group="triggers", trigger=True, step=False,
    description="Started by POST /hooks/<tenant>/<workflow>; its output is the request (method, headers, query, body).",
    schema=object_schema({
        "auth": {"enum": ["none", "bearer", "standard_webhooks", "github", "stripe"], "default": "standard_webhooks"},
        "secret_name": {"type": "string", "format": "secret-name", "default": "WEBHOOK_SECRET",
                        "description": "tenant secret holding the signing secret or token"},
        "response": {"enum": ["immediate", "wait"], "default": "immediate",
                     "description": "answer 202 at once, or wait for a respond node (bounded)"},
        "path": {"type": "string", "pattern": "^[A-Za-z0-9_/-]*$"},
    }),
    compile=lambda node, c: "return { value: event.payload };",
)
