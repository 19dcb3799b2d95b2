"""Approval links: approve/reject URLs signed for one instance and one approval step.

A link carries (instance, step, decision) signed with Django's signing (SECRET_KEY, its own salt);
following it sends the event `approval:<step>` that the approval node waits for. No login: the
signature is the authority, as in an e-mailed link. Links expire with the approval's longest timeout.
Members of the tenant can also decide from the live view (`approval_decide_for`): that path is
authorized by the tenant instead of a signature, and only answers an approval that is waiting now.
"""
from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.urls import reverse

from engine.models import Instance
from engine.selectors import event_pending, instance_for_signed_id, instance_get, waits_for_event
from engine.services import event_send, instance_lock
from tenants.errors import Conflict, InvalidInput, NotFound
from tenants.models import Tenant

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
    instance = instance_for_signed_id(data["i"])
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


def approval_decide_for(*, tenant: Tenant, instance_id: str, step: str, decision: str, by: str = "",
                        comment: str = "") -> dict:
    """Approve or reject the approval `step` of a tenant's instance, as its signed link would.

    Only an approval that is waiting now can be decided here: the event would otherwise sit in the
    inbox and decide a later occurrence the person never saw."""
    if decision not in ("approve", "reject"):
        raise InvalidInput("decision", "decision is approve or reject")
    if not isinstance(comment, str) or len(comment) > 2000:
        raise InvalidInput("comment", "a comment is at most 2000 characters")
    instance = instance_get(tenant=tenant, instance_id=instance_id)  # another tenant's id: NotFound
    if "\x00" in step:  # no step is named so, and PostgreSQL refuses the character in a query
        raise Conflict("step", "no approval by that name is waiting in this instance")
    with transaction.atomic():
        # The instance row locked: of two decisions made at once, the second sees the first's event.
        instance_lock(instance_id=instance.pk)
        if instance.status in Instance.FINISHED or not waits_for_event(instance=instance, step=step, type=f"approval:{step}"):
            raise Conflict("step", f"no approval named {step!r} is waiting in this instance")
        if event_pending(instance=instance, type=f"approval:{step}"):
            raise Conflict("step", f"approval {step!r} is already decided; the instance is taking the decision")
        payload = {"decision": decision, "by": by}
        if comment:
            payload["comment"] = comment
        event_send(tenant=tenant, instance_id=instance.pk, type=f"approval:{step}", payload=payload)
    return {"instance": str(instance.pk), "step": step, "decision": decision}
