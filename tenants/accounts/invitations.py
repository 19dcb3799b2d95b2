"""Invitations: an owner invites a person (by email or username) to the tenant with a role.

Invariants:
- The answer to an invitation never says whether a username or address has an account: every
  invitation is stored and answered alike; a username that names nobody makes an invitation that
  nobody can accept (it is not kept for a later sign-up with that name, which anyone could take).
- Only the invited account accepts: by username, the account that existed when it was made; by
  email, an account holding that address verified. The link's token is mailed, stored hashed.
- Accepting makes (or updates) the membership and is audited, once.
- The mail leaves from a thread after the commit, so the answer takes as long whether a mail is
  sent (an account with an address) or not (no account): its timing says nothing either.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..audit import audit_record
from ..errors import InvalidInput, NotFound
from ..models import Invitation, Membership, Tenant

SESSION_KEY = "invitation_token"
log = logging.getLogger(__name__)
mailers: list[threading.Thread] = []  # the mail threads started, so tests can wait for them


def _send_in_background(subject: str, body: str, to: str) -> None:
    def send():
        try:
            send_mail(subject, body, None, [to])
        except Exception:  # an unreachable SMTP server must not fail the invitation (it can be re-sent)
            log.exception("invitation mail to %s failed", to)

    thread = threading.Thread(target=send, name="invitation-mail", daemon=True)
    mailers[:] = [t for t in mailers if t.is_alive()] + [thread]
    thread.start()


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(*, tenant: Tenant, to: str, role: str, invited_by: str, base_url: str,
                      ip: str | None = None) -> Invitation:
    """Invite `to` (an email address if it holds "@", else a username). Mails the link to the
    address (for a username: to its account's verified address, if it has one)."""
    from allauth.account.models import EmailAddress

    to = (to or "").strip()
    if role not in Membership.Role.values:
        raise InvalidInput("role", "role is owner, editor or viewer")
    if not to or len(to) > 254 or any(ord(ch) < 32 for ch in to):
        raise InvalidInput("to", "invite an email address or a username")
    email, username, user, mail_to = "", "", None, ""
    if "@" in to:
        from django.core.validators import validate_email
        from django.core.exceptions import ValidationError

        try:
            validate_email(to)
        except ValidationError:
            raise InvalidInput("to", "that is not a valid email address") from None
        email = mail_to = to.lower()
    else:
        username = to
        user = User.objects.filter(username=to, is_active=True).first()
        if user is not None:
            address = EmailAddress.objects.filter(user=user, verified=True).order_by("-primary").first()
            mail_to = address.email if address else ""
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        tenant=tenant, email=email, username=username, user=user, role=role, token_hash=_hash(token),
        invited_by=invited_by, expires_at=timezone.now() + timedelta(days=settings.INVITATION_DAYS))
    audit_record(action="member.invite", actor=invited_by, tenant=tenant, target=to, ip=ip, details={"role": role})
    if mail_to:
        link = base_url.rstrip("/") + reverse("invitation", args=[token])
        # After the commit (a rolled-back invitation sends nothing), off the request (timing).
        transaction.on_commit(lambda: _send_in_background(
            f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{invited_by} invites you to {tenant.name}",
            f"{invited_by} invites you to the workspace {tenant.name} ({tenant.slug}) as {role}.\n\n"
            f"Accept (or create your account) here: {link}\n\n"
            f"The link works for {settings.INVITATION_DAYS} days. If you did not expect it, ignore this mail.",
            mail_to))
    return invitation


def invitation_by_token(*, token: str) -> Invitation | None:
    """The pending (not accepted, not expired) invitation of a token, or None."""
    if not token or len(token) > 100:
        return None
    return (Invitation.objects.select_related("tenant")
            .filter(token_hash=_hash(token), accepted_at__isnull=True, expires_at__gt=timezone.now()).first())


def invitations_pending(*, tenant: Tenant):
    return Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True,
                                     expires_at__gt=timezone.now()).order_by("-created_at")


def invitations_for_user(*, user) -> list[Invitation]:
    """The pending invitations the signed-in person may accept."""
    from allauth.account.models import EmailAddress

    emails = list(EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True))
    pending = Invitation.objects.select_related("tenant").filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
    return list(pending.filter(user=user)) + list(pending.filter(email__in=[e.lower() for e in emails], user=None))


def invitation_is_for(*, invitation: Invitation, user) -> bool:
    from allauth.account.models import EmailAddress

    if invitation.user_id is not None:
        return invitation.user_id == user.pk
    if invitation.email:
        return EmailAddress.objects.filter(user=user, verified=True, email__iexact=invitation.email).exists()
    return False  # a username that named nobody


def invitation_accept(*, invitation: Invitation, user, ip: str | None = None) -> Membership:
    if not invitation_is_for(invitation=invitation, user=user):
        raise NotFound("invitation", "this invitation is not for your account, or it has expired")
    with transaction.atomic():
        claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user)
        if not claimed:  # accepted meanwhile, in another request
            raise NotFound("invitation", "this invitation is not for your account, or it has expired")
        membership = Membership.objects.filter(tenant=invitation.tenant, user=user).first()
        if membership is None:
            membership = Membership.objects.create(tenant=invitation.tenant, user=user, role=invitation.role)
        audit_record(action="member.join", actor=user.get_username(), tenant=invitation.tenant,
                     target=user.get_username(), ip=ip, details={"role": membership.role, "invited_by": invitation.invited_by})
    return membership


def invitation_revoke(*, tenant: Tenant, invitation_id: int, actor: str, ip: str | None = None) -> None:
    invitation = invitations_pending(tenant=tenant).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("invitation", "no such pending invitation")
    audit_record(action="member.invite_revoke", actor=actor, tenant=tenant, target=invitation.to, ip=ip)
    invitation.delete()
