"""The embedded entry point and the webhook route through a real daphne process."""
import json
import sys
from datetime import datetime, timezone

import httpx
import pytest
import standardwebhooks

from engine.models import Instance
from tenants.secrets import secret_put
from tests.api.test_webhooks import SECRET, hook_workflow
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


def test_manage_py_serve_starts_the_web_server_and_the_workers(tenant, make_workflow):
    """`manage.py serve` (what config/up.sh runs): daphne answers, and its supervised workers run instances."""
    from engine import services

    wf = make_workflow("export default async function run(e, step) { return await step.do('a', () => 'served'); }")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    proc, port = start_daphne("serve", args=[sys.executable, "manage.py", "serve", "--port", "0", "--workers", "1"])
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert r.status_code in (200, 302), r.status_code  # the home page or its sign-in redirect
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=30).status_code == 401
        wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "complete", timeout=60, what="a serve worker to run the instance")
        assert json.loads(Instance.objects.get(pk=inst.pk).output) == "served"
    finally:
        stop(proc)
    assert proc.returncode is not None


def test_a_signed_webhook_through_daphne_starts_an_instance_a_worker_runs(tenant):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    hook_workflow(tenant)
    server, port = start_daphne("hook-daphne")
    worker = start_engine_worker("hook-worker")
    try:
        body = json.dumps({"order": 11}).encode()
        at = datetime.now(tz=timezone.utc)
        headers = {"webhook-id": "msg-daphne", "webhook-timestamp": str(int(at.timestamp())),
                   "webhook-signature": standardwebhooks.Webhook(SECRET).sign("msg-daphne", at, body.decode()),
                   "content-type": "application/json"}
        url = f"http://127.0.0.1:{port}/hooks/acme/orders"
        r = httpx.post(url, content=body, headers=headers, timeout=30)
        assert r.status_code == 202, r.text
        again = httpx.post(url, content=body, headers=headers, timeout=30)  # a retried delivery
        assert again.json()["instance"] == r.json()["instance"]
        bad = httpx.post(url, content=body + b" ", headers=headers, timeout=30)
        assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
        big = httpx.post(url, content=b"x" * (1024 * 1024 + 1), headers=headers, timeout=30)
        assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
        iid = r.json()["instance"]
        wait_for(lambda: Instance.objects.get(pk=iid).status == "complete", timeout=60, what="the worker to run the instance")
        assert json.loads(Instance.objects.get(pk=iid).output) == {"order": 11}
        assert Instance.objects.count() == 1
    finally:
        stop(server)
        stop(worker)
