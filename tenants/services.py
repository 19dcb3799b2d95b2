"""Writes on tenants."""
from .models import Tenant


def tenant_create(*, slug: str, name: str = "") -> Tenant:
    return Tenant.objects.create(slug=slug, name=name or slug)


def tenant_suspend(*, tenant: Tenant) -> int:
    """Refuse the tenant's webhooks and API writes (423), pause its instances, stop its schedules
    (schedules skip suspended tenants). Returns how many instances were paused."""
    from engine.services import tenant_instances_suspend

    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)
    tenant.status = Tenant.Status.SUSPENDED
    return tenant_instances_suspend(tenant=tenant)


def tenant_unsuspend(*, tenant: Tenant) -> int:
    from engine.services import tenant_instances_resume

    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.ACTIVE)
    tenant.status = Tenant.Status.ACTIVE
    return tenant_instances_resume(tenant=tenant)
