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


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"  # everything, including members, API keys and secrets
        EDITOR = "editor"  # edit workflows, run and operate instances
        VIEWER = "viewer"  # read only

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_once")]


class ApiKey(models.Model):
    """A program's credential: belongs to one tenant, shown once, stored as a SHA-256 of the token."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)  # visible part, also the lookup key
    token_hash = models.CharField(max_length=64)
    role = models.CharField(max_length=8, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class IdempotencyRecord(models.Model):
    """The first answer to a create request with an Idempotency-Key, replayed for retries."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_per_tenant")]


class AuditEntry(models.Model):
    """Who did what, when and from where: tenant administration (keys, secrets, members, publish)
    and operator actions (suspend). Append-only; purged after settings.AUDIT_RETENTION_DAYS."""

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.CharField(max_length=150)  # a username, or key:<prefix> for an API key
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=256, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "audit entries"


class Invitation(models.Model):
    """An owner's invitation to join a tenant with a role (tenants.accounts.invitations).

    Invariants: the token is shown only in the mail that carries it (stored as a SHA-256); an
    invitation by username points at the account that existed when it was made (`user`), or at
    nobody, and only that account may accept it; one by email is accepted by an account holding
    that address verified (a sign-up from the mailed link verifies it). Accepted once, then kept."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(blank=True, default="")
    username = models.CharField(max_length=150, blank=True, default="")  # as the owner typed it
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=8, choices=Membership.Role.choices, default=Membership.Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    @property
    def to(self) -> str:
        return self.email or self.username
