"""Who is calling, for which tenant, with which role: resolved in exactly one place.

Browsers sign in with Django's session (CSRF checked by django-ninja's cookie auth) and pick a
tenant with the X-Tenant header or the session's current tenant; programs send
`Authorization: Bearer <api key>`, and a key belongs to one tenant. Every API operation receives a
Principal and reaches tenant rows only through tenant-scoped selectors.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer

from .errors import Forbidden, InvalidInput, NotFound, Suspended
from .models import ApiKey, Membership, Tenant

RANK = {"viewer": 0, "editor": 1, "owner": 2}


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    role: str
    user: object | None = None
    api_key: ApiKey | None = None

    def require(self, role: str, *, write: bool = True) -> None:
        """At least `role`; a write on a suspended tenant answers 423."""
        if RANK[self.role] < RANK[role]:
            raise Forbidden("role", f"this needs the {role} role (you have {self.role})")
        if write and self.tenant.status != Tenant.Status.ACTIVE:
            raise Suspended("tenant", "the tenant is suspended: nothing can be changed or started")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_key_create(*, tenant: Tenant, name: str, role: str = "editor", expires_at=None) -> tuple[ApiKey, str]:
    """Returns the key and its token, which is never shown again."""
    if role not in RANK:
        raise InvalidInput("role", "role is owner, editor or viewer")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise InvalidInput("name", "a key name is 1 to 100 characters")
    prefix = "dw_" + secrets.token_hex(6)
    token = f"{prefix}_{secrets.token_hex(24)}"
    key = ApiKey.objects.create(tenant=tenant, name=name, prefix=prefix, token_hash=hash_token(token), role=role,
                                expires_at=expires_at)
    return key, token


def api_key_revoke(*, tenant: Tenant, key_id: int) -> ApiKey:
    key = ApiKey.objects.filter(tenant=tenant, pk=key_id, revoked_at__isnull=True).first()
    if key is None:
        raise NotFound("key", "no such API key")
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    return key


def principal_for_token(token: str) -> Principal | None:
    parts = token.split("_")
    prefix = "_".join(parts[:2]) if len(parts) == 3 else ""
    key = ApiKey.objects.select_related("tenant").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.token_hash, hash_token(token)):
        return None
    now = timezone.now()
    if key.expires_at and key.expires_at <= now:
        return None
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):  # one write a minute at most
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return Principal(tenant=key.tenant, role=key.role, api_key=key)


def principal_for_user(request, user) -> Principal | None:
    memberships = Membership.objects.select_related("tenant").filter(user=user)
    wanted = request.headers.get("X-Tenant") or request.session.get("tenant")
    chosen = next((m for m in memberships if m.tenant.slug == wanted), None) if wanted else None
    if chosen is None and not wanted:
        chosen = min(memberships, key=lambda m: m.tenant.slug, default=None)
    if chosen is None:
        return None
    return Principal(tenant=chosen.tenant, role=chosen.role, user=user)


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request, token):
        return principal_for_token(token)


class SessionTenantAuth(APIKeyCookie):
    """The browser's session (CSRF checked for unsafe methods), for the tenant it works in."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # No signed-in user: 401 like a read, not the 403 of a CSRF check that could not matter.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        if request.user.is_authenticated:
            return principal_for_user(request, request.user)
        return None


AUTH = [ApiKeyAuth(), SessionTenantAuth()]
