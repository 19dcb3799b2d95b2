"""Writes on tenants, people and memberships.

Invariant: tenants is the bottom layer and imports no other app. What a tenant's suspension means
to the apps above (their instances pause) they say in settings.TENANT_SUSPEND_HOOKS and
TENANT_UNSUSPEND_HOOKS: functions called with the tenant, each returning how many instances it
paused (or resumed).
"""

from django.conf import settings
from django.utils.module_loading import import_string

from .models import Tenant


def _run_hooks(paths: list[str], tenant: Tenant) -> int:
    return sum(import_string(path)(tenant=tenant) for path in paths)


def tenant_create(*, slug: str, name: str = "") -> Tenant:
    return Tenant.objects.create(slug=slug, name=name or slug)


def tenant_suspend(*, tenant: Tenant, actor: str = "operator", ip: str | None = None) -> int:
    """Refuse the tenant's webhooks and API writes (423), pause its instances, stop its schedules
    (schedules skip suspended tenants). Returns how many instances were paused."""
    from .audit import audit_record

    audit_record(action="tenant.suspend", actor=actor, tenant=tenant, target=tenant.slug, ip=ip)
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    tenant.status = Tenant.Status.SUSPENDED
    return _run_hooks(settings.TENANT_SUSPEND_HOOKS, tenant)


def tenant_unsuspend(*, tenant: Tenant, actor: str = "operator", ip: str | None = None) -> int:
    from .audit import audit_record

    audit_record(action="tenant.unsuspend", actor=actor, tenant=tenant, target=tenant.slug, ip=ip)
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.ACTIVE)
    tenant.status = Tenant.Status.ACTIVE
    return _run_hooks(settings.TENANT_UNSUSPEND_HOOKS, tenant)


def tenant_create_owned(*, user, slug: str, name: str = "") -> Tenant:
    """A new tenant owned by `user` (sign-up: tenants.accounts.forms.SignupForm)."""
    from .models import Membership

    tenant = tenant_create(slug=slug, name=name)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
    return tenant


def member_set(*, tenant: Tenant, username: str, role: str):
    """Change a member's role. People join through invitations (tenants.accounts.invitations), so
    an unknown name and a non-member answer alike: nothing here says who has an account."""
    from .errors import Conflict, InvalidInput, NotFound
    from .models import Membership

    if role not in Membership.Role.values:
        raise InvalidInput("role", "role is owner, editor or viewer")
    membership = Membership.objects.select_related("user").filter(tenant=tenant, user__username=username).first()
    if membership is None:
        raise NotFound("username", f"{username} is not a member: invite them (POST /invitations)")
    if membership.role == "owner" and role != "owner" and \
            Membership.objects.filter(tenant=tenant, role="owner").count() == 1:
        raise Conflict("role", "a tenant keeps at least one owner")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


def member_remove(*, tenant: Tenant, username: str) -> None:
    from .errors import Conflict, NotFound
    from .models import Membership

    membership = Membership.objects.filter(tenant=tenant, user__username=username).first()
    if membership is None:
        raise NotFound("username", f"{username} is not a member")
    if membership.role == "owner" and Membership.objects.filter(tenant=tenant, role="owner").count() == 1:
        raise Conflict("username", "a tenant keeps at least one owner")
    membership.delete()


def tenant_limits_set(*, tenant: Tenant, limits: dict, actor: str = "operator", ip: str | None = None) -> Tenant:
    """Set the tenant's plan limits. Only known keys (settings.TENANT_DEFAULT_LIMITS), positive
    numbers of the default's type; a value equal to the default is dropped, so the tenant follows
    later changes of the default. Audited with the limits before and after."""
    from django.conf import settings

    from .audit import audit_record
    from .errors import InvalidInput
    from .limits import MAX_HTTP_CONCURRENCY, MAX_STEPS_PER_INSTANCE

    defaults = settings.TENANT_DEFAULT_LIMITS
    overrides = {}
    for key, value in limits.items():
        if key not in defaults:
            raise InvalidInput(key, f"{key} is not a plan limit")
        if value is None:
            continue
        kind = type(defaults[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise InvalidInput(key, f"{key} must be a {'whole ' if kind is int else ''}number")
        if value <= 0:
            raise InvalidInput(key, f"{key} must be greater than 0")
        if key == "steps_per_instance" and value > MAX_STEPS_PER_INSTANCE:
            raise InvalidInput(key, f"{key} is at most {MAX_STEPS_PER_INSTANCE}")
        if key == "http_concurrency" and value > MAX_HTTP_CONCURRENCY:
            raise InvalidInput(key, f"{key} is at most {MAX_HTTP_CONCURRENCY}")
        if kind(value) != defaults[key]:
            overrides[key] = kind(value)
    before = dict(tenant.limits or {})
    Tenant.objects.filter(pk=tenant.pk).update(limits=overrides)
    tenant.limits = overrides
    audit_record(action="tenant.limits", actor=actor, tenant=tenant, target=tenant.slug, ip=ip,
                 details={"before": before, "after": overrides})
    return tenant
