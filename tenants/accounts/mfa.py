"""Second factors for operators.

Invariants:
- A staff user opens no console page (/admin/..., and /metrics through a session) unless they have
  a second factor (TOTP or a WebAuthn key) and this session used it: at sign-in (allauth's MFA
  stage), at set-up (entering a code from the new authenticator), or at a re-authentication.
  Without a factor they are sent to set one up; with one this session did not use, to enter it.
- Resetting someone's factors is an operator action on another operator: audited, and it ends
  that person's sessions, so the next console visit asks them to set a factor up again.
"""
from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django.shortcuts import redirect
from django.urls import reverse

from ..audit import audit_record

CONSOLE_PATHS = ("/admin/", "/metrics")
FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user=user, type__in=FACTORS).exists()


def used_second_factor(request) -> bool:
    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


class OperatorMfaMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(CONSOLE_PATHS) and not request.path.startswith("/admin/login/"):
            user = request.user
            if user.is_authenticated and user.is_staff:
                query = urlencode({"next": request.get_full_path()})
                if not has_second_factor(user):
                    return redirect(f"{reverse('mfa_activate_totp')}?{query}")
                if not used_second_factor(request):
                    # A code for an authenticator app; a key's own page for WebAuthn-only people.
                    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
                    return redirect(f"{reverse('mfa_reauthenticate' if totp else 'mfa_reauthenticate_webauthn')}?{query}")
                request.session.pop("mfa_next", None)  # arrived: no more "continue" banner
        return self.get_response(request)


def second_factor_reset(*, user, actor: str, ip: str | None = None) -> int:
    """Delete `user`'s authenticators (TOTP, WebAuthn keys, recovery codes) and end their sessions.
    Returns how many authenticators were deleted."""
    from allauth.usersessions.models import UserSession

    deleted = Authenticator.objects.filter(user=user).delete()[0]
    for session in UserSession.objects.filter(user=user):
        session.end()
    audit_record(action="mfa.reset", actor=actor, target=user.get_username(), ip=ip, details={"authenticators": deleted})
    return deleted
