"""Tenants: who owns every row. Every engine and builder row points at one Tenant.

Invariants:
- A Secret's value is stored only encrypted (tenants.secrets); nothing returns it but the
  capability that hands it to the tenant's own programs.
- Usage rows are counters per tenant and UTC day, only ever incremented (tenants.usage).
"""
from django.db import models


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Plan limits that differ from settings.TENANT_DEFAULT_LIMITS (see tenants.limits).
    limits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.slug


class Secret(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=128)
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="secret_name_per_tenant")]


class Usage(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    steps = models.BigIntegerField(default=0)  # step attempts run
    cpu_ms = models.BigIntegerField(default=0)  # time the tenant's code ran in the sandbox
    http_calls = models.BigIntegerField(default=0)
    bytes_stored = models.BigIntegerField(default=0)  # step outputs, instance outputs and event payloads written

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="usage_per_tenant_day")]
