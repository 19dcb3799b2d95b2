"""Listening for a test delivery (the editor's "Listen for a test event", as n8n's "Listen for test event").

Invariants: a test URL (`/hooks-test/<tenant>/<workflow>`) accepts a delivery only while an editor of
the workflow listens (LISTEN_SECONDS after it asked), checked with the *draft's* webhook trigger exactly
as a real delivery is checked with the published one (auth scheme, secret, body limit); the captured
delivery (`{method, headers, query, body}` as a real instance gets it, signature headers dropped) never
starts an instance and is the test payload of the editor's next Run. The listen and its capture are a
TestDelivery row (one per workflow, with an expiry, purged by a pump hook), so every web process sees
them; a listen takes one delivery: the capture is a conditional UPDATE from `listening`.
The workflow is found by tenant first: another tenant's workflow is "not found", listened to or not.
"""
from __future__ import annotations

from datetime import timedelta

from engine import clock
from tenants.errors import NotFound
from tenants.models import Tenant

from builder.graph import parse
from builder.models import Workflow
from .models import TestDelivery
from .webhooks import Answer, Delivery, Target, payload_of, verify

LISTEN_SECONDS = 300
PURGE_BATCH = 1000
L = TestDelivery.State


def test_url(workflow: Workflow) -> str:
    return f"/hooks-test/{workflow.tenant.slug}/{workflow.slug}"


def _state(workflow: Workflow, row: TestDelivery | None) -> dict:
    if row is None or row.expires_at <= clock.now():
        return {"state": "idle", "url": test_url(workflow), "delivery": None}
    return {"state": row.state, "url": test_url(workflow), "delivery": row.delivery}


def listen_start(*, workflow: Workflow) -> dict:
    """Listen for the next test delivery (again): a capture made before is dropped."""
    row, _ = TestDelivery.objects.update_or_create(workflow=workflow, defaults={
        "tenant_id": workflow.tenant_id, "state": L.LISTENING, "delivery": None,
        "expires_at": clock.now() + timedelta(seconds=LISTEN_SECONDS)})
    return _state(workflow, row)


def listen_state(*, workflow: Workflow) -> dict:
    return _state(workflow, TestDelivery.objects.filter(workflow=workflow).first())


def capture(delivery: Delivery, tenant_slug: str, workflow_slug: str) -> Answer:
    tenant = Tenant.objects.filter(slug=tenant_slug, status=Tenant.Status.ACTIVE).first()
    workflow = Workflow.objects.filter(tenant=tenant, slug=workflow_slug, archived=False).first() if tenant else None
    listening = TestDelivery.objects.filter(workflow=workflow, tenant=tenant, state=L.LISTENING,
                                            expires_at__gt=clock.now()) if workflow else None
    if listening is None or not listening.exists():
        raise NotFound("workflow", "no editor is listening for a test delivery here")
    trigger = next((n for n in parse(workflow.draft or {}).nodes.values() if n.type == "webhook"), None)
    if trigger is None:
        raise NotFound("workflow", "the draft has no webhook trigger")
    verify(Target(tenant=tenant, workflow=workflow, trigger=trigger), delivery.body, delivery.headers)
    if not listening.update(state=L.CAPTURED, delivery=payload_of(delivery),
                            expires_at=clock.now() + timedelta(seconds=LISTEN_SECONDS)):
        raise NotFound("workflow", "no editor is listening for a test delivery here")  # another delivery took it
    return Answer(202, {"captured": True, "message": "test delivery captured: the editor uses it for its next Run"}, {})


def test_deliveries_purge(*, now=None) -> int:
    """Delete expired listens and captures, a batch at a time (a pump hook)."""
    ids = list(TestDelivery.objects.filter(expires_at__lte=now or clock.now()).values_list("pk", flat=True)[:PURGE_BATCH])
    return TestDelivery.objects.filter(pk__in=ids).delete()[0] if ids else 0
