"""API: who am I, secrets (values never returned), API keys, usage, members and invitations. Thin:
services do the work."""
from datetime import date, datetime

from ninja import Router, Schema, Status

from .access import Principal, api_key_create, api_key_revoke
from .accounts.invitations import invitation_create, invitation_revoke, invitations_pending
from .audit import actor_of, audit_from_request, client_ip
from .errors import NotFound
from . import selectors
from .secrets import secret_delete, secret_names, secret_put
from .services import member_remove, member_set

router = Router(tags=["tenant"])


class MeOut(Schema):
    tenant: str
    role: str
    tenants: list[str]
    user: str | None = None


@router.get("/me", response=MeOut)
def me(request):
    p: Principal = request.auth
    tenants = selectors.tenant_slugs_of(user=p.user) if p.user else [p.tenant.slug]
    return {"tenant": p.tenant.slug, "role": p.role, "tenants": tenants, "user": p.user.get_username() if p.user else None}


class SecretIn(Schema):
    value: str


@router.get("/secrets", response=list[str])
def secrets_list(request):
    request.auth.require("owner", write=False)
    return secret_names(tenant=request.auth.tenant)


@router.put("/secrets/{name}", response={204: None})
def secrets_put(request, name: str, payload: SecretIn):
    request.auth.require("owner")
    secret_put(tenant=request.auth.tenant, name=name, value=payload.value)
    audit_from_request(request, "secret.put", name)
    return Status(204, None)


@router.delete("/secrets/{name}", response={204: None})
def secrets_delete(request, name: str):
    request.auth.require("owner")
    secret_delete(tenant=request.auth.tenant, name=name)
    audit_from_request(request, "secret.delete", name)
    return Status(204, None)


class KeyIn(Schema):
    name: str
    role: str = "editor"
    expires_at: datetime | None = None


class KeyOut(Schema):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreatedOut(KeyOut):
    token: str


@router.get("/keys", response=list[KeyOut])
def keys_list(request):
    request.auth.require("owner", write=False)
    return selectors.api_keys_of(tenant=request.auth.tenant)


@router.post("/keys", response={201: KeyCreatedOut})
def keys_create(request, payload: KeyIn):
    request.auth.require("owner")
    key, token = api_key_create(tenant=request.auth.tenant, name=payload.name, role=payload.role, expires_at=payload.expires_at)
    audit_from_request(request, "key.create", key.prefix, {"name": key.name, "role": key.role})
    return Status(201, {**KeyOut.from_orm(key).model_dump(), "token": token})


@router.delete("/keys/{key_id}", response=KeyOut)
def keys_revoke(request, key_id: int):
    request.auth.require("owner")
    key = api_key_revoke(tenant=request.auth.tenant, key_id=key_id)
    audit_from_request(request, "key.revoke", key.prefix)
    return key


class UsageOut(Schema):
    day: date
    steps: int
    cpu_ms: int
    http_calls: int
    bytes_stored: int


@router.get("/usage", response=list[UsageOut])
def usage(request, since: date | None = None, until: date | None = None):
    request.auth.require("viewer", write=False)
    return selectors.usage_of(tenant=request.auth.tenant, since=since, until=until)


class SwitchIn(Schema):
    tenant: str


@router.post("/me/tenant", response=MeOut)
def switch_tenant(request, payload: SwitchIn):
    """Browser sessions: make another of your tenants the current one."""
    p: Principal = request.auth
    if p.user is None or not selectors.is_member(user=p.user, tenant_slug=payload.tenant):
        raise NotFound("tenant", "you are not a member of that tenant")
    request.session["tenant"] = payload.tenant
    request.META["HTTP_X_TENANT"] = payload.tenant
    from .access import principal_for_user

    request.auth = principal_for_user(request, p.user)
    return me(request)


class MemberIn(Schema):
    username: str | None = None  # the path names the member; kept for older clients
    role: str = "editor"


class MemberOut(Schema):
    username: str
    role: str

    @staticmethod
    def resolve_username(obj):
        return obj.user.username


@router.get("/members", response=list[MemberOut])
def members_list(request):
    return selectors.members_of(tenant=request.auth.tenant)


@router.put("/members/{username}", response=MemberOut)
def members_set(request, username: str, payload: MemberIn):
    request.auth.require("owner")
    membership = member_set(tenant=request.auth.tenant, username=username, role=payload.role)
    audit_from_request(request, "member.set", username, {"role": payload.role})
    return membership


@router.delete("/members/{username}", response={204: None})
def members_remove(request, username: str):
    request.auth.require("owner")
    member_remove(tenant=request.auth.tenant, username=username)
    audit_from_request(request, "member.remove", username)
    return Status(204, None)


class InvitationIn(Schema):
    to: str  # an email address, or the username of an account
    role: str = "editor"


class InvitationOut(Schema):
    id: int
    to: str
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


@router.get("/invitations", response=list[InvitationOut])
def invitations_list(request):
    request.auth.require("owner", write=False)
    return invitations_pending(tenant=request.auth.tenant)[:500]


@router.post("/invitations", response={201: InvitationOut})
def invitations_create(request, payload: InvitationIn):
    """Invite someone: the answer is the same whether or not the name or address has an account."""
    request.auth.require("owner")
    invitation = invitation_create(tenant=request.auth.tenant, to=payload.to, role=payload.role,
                                   invited_by=actor_of(request.auth), base_url=request.build_absolute_uri("/"),
                                   ip=client_ip(request))
    return Status(201, invitation)


@router.delete("/invitations/{invitation_id}", response={204: None})
def invitations_revoke(request, invitation_id: int):
    request.auth.require("owner")
    invitation_revoke(tenant=request.auth.tenant, invitation_id=invitation_id, actor=actor_of(request.auth),
                      ip=client_ip(request))
    return Status(204, None)
