"""The triggers' own rows: the editor's listened-for test deliveries.

Invariant: a TestDelivery is tenant data (it holds a delivery's headers and body) with an expiry:
read only through its workflow (found by tenant first), never after `expires_at`, and deleted once
expired (triggers.test_deliveries.test_deliveries_purge, a pump hook). One row per workflow at most.
It lives in the database, not in a process's cache, so every web process sees the same listen.
"""
from django.db import models


class TestDelivery(models.Model):
    __test__ = False  # not a test class, whatever pytest makes of its name
    class State(models.TextChoices):
        LISTENING = "listening"
        CAPTURED = "captured"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    workflow = models.OneToOneField("builder.Workflow", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices)
    delivery = models.JSONField(null=True, blank=True)  # {method, headers, query, body} once captured
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.workflow_id}: {self.state}"
