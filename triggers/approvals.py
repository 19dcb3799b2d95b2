"""Approval links: approve/reject URLs signed for one occurrence of one approval step of one instance.

A link carries (instance, step, occurrence, decision) signed with Django's signing under the
deployment's own SECRET_KEY (generated into VAR_DIR on first start unless set: config.settings),
salted for approvals; without that key no link can be made. Following it sends the event
`approval:<step>` that the approval node waits for. No login: the signature is the authority, as
in an e-mailed link. Invariants:
- A link decides only its occurrence of the step, and only while that occurrence is waiting: a
  link made for the first pass of a loop never decides the second.
- It expires with the wait: once the occurrence stopped waiting (decided, timed out, the instance
  finished) the link answers 410, whatever its age.
- It is single-use: the first decision leaves an unconsumed event (or a finished wait), so any
  later use, with either decision, answers 409 or 410.
Members of the tenant can also decide from the live view (`approval_decide_for`): that path is
authorized by the tenant instead of a signature, under the same rules.
"""
from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.urls import reverse

from engine.models import Instance
from engine.selectors import event_pending, instance_for_signed_id, instance_get, wait_status, waits_for_event
from engine.services import event_send, instance_lock
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.models import Tenant

SALT = "builder.approval.v2"  # v1 links (no occurrence) are no longer accepted
MAX_AGE = 366 * 24 * 3600  # a wait lasts at most 365 days


class Gone(DomainError):
    status = 410
    code = "gone"


def approval_token(*, instance: Instance, step: str, decision: str, occurrence: int = 1) -> str:
    return signing.dumps({"i": str(instance.pk), "s": step, "o": occurrence, "d": decision}, salt=SALT, compress=True)


def approval_links(*, instance: Instance, step: str, occurrence: int = 1) -> dict[str, str]:
    """Links for the `occurrence`-th wait of `step` (the first by default: a step outside a loop)."""
    return {d: reverse("approval", args=[approval_token(instance=instance, step=step, decision=d, occurrence=occurrence)])
            for d in ("approve", "reject")}


def approval_read(token: str) -> tuple[Instance, str, str]:
    """The link's instance, step and decision; 404 if forged, 410 once its wait is over."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        raise NotFound("token", "this approval link is not valid") from None
    if not isinstance(data, dict) or data.get("d") not in ("approve", "reject") or not isinstance(data.get("o"), int):
        raise NotFound("token", "this approval link is not valid")
    instance = instance_for_signed_id(data["i"])
    if instance is None:
        raise NotFound("token", "this approval link is not valid")
    status = wait_status(instance=instance, step=data["s"], occurrence=data["o"])
    if instance.status in Instance.FINISHED or (status is not None and status != "waiting"):
        raise Gone("token", "this approval is no longer waiting: the link has expired")
    return instance, data["s"], data["d"]


def approval_decide(token: str, *, by: str = "") -> dict:
    instance, step, decision = approval_read(token)
    occurrence = signing.loads(token, salt=SALT, max_age=MAX_AGE)["o"]
    return _decide(instance=instance, step=step, occurrence=occurrence, decision=decision, payload={"decision": decision, "by": by})


def _decide(*, instance: Instance, step: str, occurrence: int | None, decision: str, payload: dict) -> dict:
    """Send the decision if `step` (that occurrence, when given) is waiting and undecided."""
    with transaction.atomic():
        # The instance row locked: of two decisions made at once, the second sees the first's event.
        instance_lock(instance_id=instance.pk)
        if instance.status in Instance.FINISHED or not waits_for_event(
                instance=instance, step=step, type=f"approval:{step}", occurrence=occurrence):
            raise Conflict("step", f"no approval named {step!r} is waiting in this instance")
        if event_pending(instance=instance, type=f"approval:{step}"):
            raise Conflict("step", f"approval {step!r} is already decided; the instance is taking the decision")
        event_send(tenant=instance.tenant, instance_id=instance.pk, type=f"approval:{step}", payload=payload)
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
    payload = {"decision": decision, "by": by}
    if comment:
        payload["comment"] = comment
    return _decide(instance=instance, step=step, occurrence=None, decision=decision, payload=payload)
