"""The project's allauth adapter: sign-in attempts are audited (who was named, from which address,
when), and an invitation link that arrived by mail counts as proof of that address.

Invariants:
- A refused sign-in, whether the account exists or not, is answered by allauth with the same
  message; a locked-out name (allauth's `login_failed` rate limit, keyed on the name typed) is
  refused before any password check, so a lockout says nothing about the account either.
- The audit never holds a password: only the name typed, the address and the outcome.
"""
from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import ValidationError

from ..audit import audit_record, client_ip


def login_named(credentials: dict) -> str:
    return str(credentials.get("email") or credentials.get("username") or "")


class AccountAdapter(DefaultAccountAdapter):
    def pre_authenticate(self, request, **credentials):
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError:
            audit_record(action="account.locked_out", actor=login_named(credentials), ip=client_ip(request))
            request.account_locked_out = True  # tenants.accounts.views.LoginView answers 429
            raise

    def authentication_failed(self, request, **credentials):
        super().authentication_failed(request, **credentials)
        audit_record(action="account.login_failed", actor=login_named(credentials), ip=client_ip(request))
