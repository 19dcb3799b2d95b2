"""The editor's listened-for test deliveries live in the database (every web process sees a listen
and its capture), expire and are purged; the test URL, the listen API and the expression preview
never reach another tenant's workflow."""
import json
from datetime import timedelta

import pytest
from django.core.cache import cache

from builder.services import workflow_create
from engine.models import Instance
from tenants.secrets import secret_put
from triggers import test_deliveries
from triggers.models import TestDelivery

from tests.api.test_webhooks import SECRET, post, standard_headers
from tests.builder.helpers import graph

pytestmark = pytest.mark.django_db
BODY = json.dumps({"amount": 3}).encode()


def listened(tenant, slug="listened"):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    draft = graph([("hook", "webhook", {}), ("echo", "code", {"code": "return input;"})], [("hook", "echo")])
    return workflow_create(tenant=tenant, slug=slug, draft=draft)


def test_a_listen_and_its_capture_are_rows_every_process_sees(api, tenant):
    wf = listened(tenant)
    api.post(f"/workflows/{wf.pk}/test-delivery", {})
    cache.clear()  # what a process's cache held is gone (another process has its own): the row remains
    assert post(f"/hooks-test/{tenant.slug}/listened", BODY, **standard_headers(BODY)).status_code == 202
    cache.clear()
    captured = api.get(f"/workflows/{wf.pk}/test-delivery").data
    assert captured["state"] == "captured" and captured["delivery"]["body"] == {"amount": 3}
    row = TestDelivery.objects.get(workflow=wf)
    assert (row.tenant_id, row.state) == (tenant.pk, "captured")


def test_listens_and_captures_expire_and_are_purged(api, tenant, clock):
    wf = listened(tenant)
    api.post(f"/workflows/{wf.pk}/test-delivery", {})
    clock.advance(seconds=test_deliveries.LISTEN_SECONDS + 1)
    assert api.get(f"/workflows/{wf.pk}/test-delivery").data["state"] == "idle"
    assert post(f"/hooks-test/{tenant.slug}/listened", BODY, **standard_headers(BODY)).status_code == 404
    assert test_deliveries.test_deliveries_purge(now=clock.now() - timedelta(seconds=10)) == 0  # not yet expired then
    assert test_deliveries.test_deliveries_purge(now=clock.now()) == 1
    assert not TestDelivery.objects.exists()


def test_another_tenants_listening_workflow_answers_404_at_the_test_url(api, other_api, tenant, other_tenant):
    mine = listened(tenant, slug="mine")
    theirs = listened(other_tenant, slug="theirs")
    assert other_api.post(f"/workflows/{theirs.pk}/test-delivery", {}).status_code == 200
    assert api.post(f"/workflows/{mine.pk}/test-delivery", {}).status_code == 200
    # Their workflow under my tenant's URL, mine under theirs: not found, nothing captured.
    assert post(f"/hooks-test/{tenant.slug}/theirs", BODY, **standard_headers(BODY)).status_code == 404
    assert post(f"/hooks-test/{other_tenant.slug}/mine", BODY, **standard_headers(BODY)).status_code == 404
    assert set(TestDelivery.objects.values_list("state", flat=True)) == {"listening"}
    # Reading or restarting another tenant's listen through the API: not found, and theirs is unchanged.
    assert api.get(f"/workflows/{theirs.pk}/test-delivery").status_code == 404
    assert api.post(f"/workflows/{theirs.pk}/test-delivery", {}).status_code == 404
    assert TestDelivery.objects.get(workflow=theirs).tenant_id == other_tenant.pk
    assert not Instance.objects.exists()


def test_pins_and_partial_runs_of_another_tenants_workflow_answer_404(api, other_tenant):
    theirs = listened(other_tenant, slug="theirs")
    assert api.put(f"/workflows/{theirs.pk}/pins/echo", {"output": 1}).status_code == 404
    assert api.delete(f"/workflows/{theirs.pk}/pins/echo").status_code == 404
    r = api.post(f"/workflows/{theirs.pk}/draft/instances", {"seeds": {"echo": 1}, "stop_after": "echo"})
    assert r.status_code == 404 and r.data["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.pins == {} and not Instance.objects.exists()


def test_the_expression_preview_reads_only_the_sample_data_it_is_sent(api, other_api, other_tenant):
    """The preview names no workflow or instance: it evaluates the request's own sample data in a
    fresh sandbox, so there is nothing of another tenant it could reach; the same request answers
    the same for either tenant, and unauthenticated it is refused."""
    listened(other_tenant, slug="theirs")
    body = {"value": "{{ steps.echo?.secret ?? 'none' }}", "context": {"steps": {}}}
    mine, theirs = api.post("/preview", body), other_api.post("/preview", body)
    assert mine.status_code == theirs.status_code == 200 and mine.data == theirs.data == {"ok": True, "value": "none", "error": None}
    from tests.api.conftest import Api
    assert Api(None).post("/preview", body).status_code == 401
