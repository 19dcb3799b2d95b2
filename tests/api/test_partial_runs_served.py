"""Pins and partial test runs through the real server (daphne) and a real engine worker process, with
an HTTP client and an API key: a pinned node is given its data, the tested node runs, nothing after it."""
import json

import httpx
import pytest

from engine.models import Instance, StepRecord
from tenants.access import api_key_create
from tests.api.test_draft_run import chain
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_pin_then_test_the_next_node_through_daphne(tenant, other_tenant):
    from builder.services import workflow_create

    wf = workflow_create(tenant=tenant, slug="served", draft=chain())
    token = api_key_create(tenant=tenant, name="served", role="owner")[1]
    other = api_key_create(tenant=other_tenant, name="served", role="owner")[1]
    server, port = start_daphne("partial-daphne")
    worker = start_engine_worker("partial-worker")
    try:
        base = f"http://127.0.0.1:{port}/api/v1/workflows/{wf.pk}"
        auth = {"Authorization": f"Bearer {token}"}
        pinned = httpx.put(f"{base}/pins/fetch", json={"output": {"price": 4}}, headers=auth, timeout=30)
        assert pinned.status_code == 200 and pinned.json()["pins"] == {"fetch": {"price": 4}}
        refused = httpx.put(f"{base}/pins/fetch", json={"output": {"price": 4}}, headers={"Authorization": f"Bearer {other}"}, timeout=30)
        assert refused.status_code == 404  # another tenant's workflow
        started = httpx.post(f"{base}/draft/instances", json={"stop_after": "total"}, headers=auth, timeout=30)
        assert started.status_code == 201, started.text
        iid = started.json()["id"]
        wait_for(lambda: Instance.objects.get(pk=iid).status == "complete", timeout=60, what="the worker to run the test")
        status = httpx.get(f"http://127.0.0.1:{port}/api/v1/instances/{iid}", headers=auth, timeout=30).json()
        assert (status["output"], status["test"], status["stop_after"]) == ({"total": 8}, True, "total")
        assert {s.name: s.attempts for s in StepRecord.objects.filter(instance_id=iid)} == {"fetch": 0, "total": 1}
        bad = httpx.post(f"{base}/draft/instances", content=b'{"seeds": {"fetch": {"price": 1e999}}}',
                         headers={**auth, "content-type": "application/json"}, timeout=30)
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/json")
        assert Instance.objects.count() == 1
    finally:
        stop(server)
        stop(worker)
