"""Listening for a test delivery (the editor's "Listen for a test event", as n8n's "Listen for test event").

Invariants: a test URL (`/hooks-test/<tenant>/<workflow>`) accepts a delivery only while an editor of
the workflow listens (LISTEN_SECONDS after it asked), checked with the *draft's* webhook trigger exactly
as a real delivery is checked with the published one (auth scheme, secret, body limit); the captured
delivery (`{method, headers, query, body}` as a real instance gets it, signature headers dropped) is
kept in the cache, never starts an instance, and is the test payload of the editor's next Run. It is
ephemeral by design: a lost capture costs one more test delivery. The cache is per process unless one
is configured (a shared cache such as Redis is needed when several web processes answer webhooks).
"""
from __future__ import annotations

from django.core.cache import cache

from tenants.errors import NotFound
from tenants.models import Tenant

from builder.graph import parse
from builder.models import Workflow
from .webhooks import Answer, Delivery, Target, payload_of, verify

LISTEN_SECONDS = 300


def _key(workflow: Workflow) -> str:
    return f"test-delivery:{workflow.pk}"


def test_url(workflow: Workflow) -> str:
    return f"/hooks-test/{workflow.tenant.slug}/{workflow.slug}"


def listen_start(*, workflow: Workflow) -> dict:
    """Listen for the next test delivery (again): a capture made before is dropped."""
    state = {"state": "listening", "url": test_url(workflow), "delivery": None}
    cache.set(_key(workflow), state, LISTEN_SECONDS)
    return state


def listen_state(*, workflow: Workflow) -> dict:
    return cache.get(_key(workflow)) or {"state": "idle", "url": test_url(workflow), "delivery": None}


def capture(delivery: Delivery, tenant_slug: str, workflow_slug: str) -> Answer:
    tenant = Tenant.objects.filter(slug=tenant_slug, status=Tenant.Status.ACTIVE).first()
    workflow = Workflow.objects.filter(tenant=tenant, slug=workflow_slug, archived=False).first() if tenant else None
    state = cache.get(_key(workflow)) if workflow else None
    if not state or state["state"] != "listening":
        raise NotFound("workflow", "no editor is listening for a test delivery here")
    trigger = next((n for n in parse(workflow.draft or {}).nodes.values() if n.type == "webhook"), None)
    if trigger is None:
        raise NotFound("workflow", "the draft has no webhook trigger")
    verify(Target(tenant=tenant, workflow=workflow, trigger=trigger), delivery.body, delivery.headers)
    cache.set(_key(workflow), {**state, "state": "captured", "delivery": payload_of(delivery)}, LISTEN_SECONDS)
    return Answer(202, {"captured": True, "message": "test delivery captured: the editor uses it for its next Run"}, {})
