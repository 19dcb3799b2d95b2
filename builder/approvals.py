"""Approval links: approve/reject URLs signed for one instance and one approval step.

A link carries (instance, step, decision) signed with Django's signing (SECRET_KEY, its own salt);
following it sends the event `approval:<step>` that the approval node waits for. No login: the
signature is the authority, as in an e-mailed link. Links expire with the approval's longest timeout.
"""
from __future__ import annotations

from django.core import signing
from django.urls import reverse

from engine.models import Instance
from engine.services import event_send
from tenants.errors import InvalidInput, NotFound

SALT = "builder.approval"
MAX_AGE = 366 * 24 * 3600


def approval_token(*, instance: Instance, step: str, decision: str) -> str:
    return signing.dumps({"i": str(instance.pk), "s": step, "d": decision}, salt=SALT, compress=True)


def approval_links(*, instance: Instance, step: str) -> dict[str, str]:
    return {d: reverse("approval", args=[approval_token(instance=instance, step=step, decision=d)])
            for d in ("approve", "reject")}


def approval_read(token: str) -> tuple[Instance, str, str]:
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        raise NotFound("token", "this approval link is not valid") from None
    instance = Instance.objects.select_related("tenant").filter(pk=data["i"]).first()
    if instance is None or data.get("d") not in ("approve", "reject"):
        raise NotFound("token", "this approval link is not valid")
    return instance, data["s"], data["d"]


def approval_decide(token: str, *, by: str = "") -> dict:
    instance, step, decision = approval_read(token)
    if instance.status in Instance.FINISHED:
        raise InvalidInput("token", f"this instance is {instance.status}: the decision is no longer needed")
    event_send(tenant=instance.tenant, instance_id=instance.pk, type=f"approval:{step}",
               payload={"decision": decision, "by": by})
    return {"instance": str(instance.pk), "step": step, "decision": decision}
