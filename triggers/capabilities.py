"""step.startWorkflow({workflow, params, node}): start a child instance of another workflow of the
same tenant. The child's id is derived from the parent and the calling node, so a retried step
finds the same child instead of starting another."""
import hashlib

from engine.capabilities import Call, CapabilityError
from engine.services import instance_create
from tenants.errors import NotFound

from builder.selectors import workflow_get_by_slug


def start_workflow(call: Call) -> dict:
    args = call.args if isinstance(call.args, dict) else {}
    slug, node = args.get("workflow"), args.get("node")
    if not isinstance(slug, str) or not isinstance(node, str):
        raise CapabilityError("step.startWorkflow needs { workflow, params?, node }", "TypeError")
    try:
        workflow = workflow_get_by_slug(tenant=call.tenant, slug=slug)
    except NotFound as e:
        raise CapabilityError(e.message, "WorkflowNotFoundError") from None
    if workflow.published_version_id is None:
        raise CapabilityError(f"workflow {slug} has no published version", "WorkflowNotFoundError")
    key = "sub-" + hashlib.sha256(f"{call.instance.pk}:{node}".encode()).hexdigest()[:24]
    child = instance_create(tenant=call.tenant, workflow=workflow, id=key, params=args.get("params"), parent=call.instance)
    return {"id": str(child.pk), "key": child.public_key, "workflow": slug}
