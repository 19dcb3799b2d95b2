"""Prometheus metrics: staff or the configured token only; figures from the engine's rows."""
from django.contrib.auth.models import User
from django.test import Client

from engine import services
from tests.accounts import operator_client


def test_metrics_need_staff_or_the_token(tenant, make_workflow, clock, settings):
    wf = make_workflow("export default async function run(e, step) { await step.sleep('s', '1 hour'); }")
    services.instance_create(tenant=tenant, workflow=wf)
    client = Client()
    assert client.get("/metrics").status_code == 404
    User.objects.create_user("someone", password="pw")
    client.login(username="someone", password="pw")
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "scrape-me"
    r = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert r.status_code == 200
    body = r.content.decode()
    assert 'engine_instances{status="queued"} 1' in body and "engine_due_backlog 1" in body
    ops = User.objects.create_user("ops", password="pw", is_staff=True)
    staff = Client()
    staff.login(username="ops", password="pw")
    assert staff.get("/metrics")["Location"].startswith("/accounts/2fa/")  # operators use a second factor first
    assert operator_client(Client(), ops, "pw").get("/metrics").status_code == 200
