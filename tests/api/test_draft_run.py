"""The editor's Run: an instance of the saved draft on an unpublished version."""
import json

import pytest

from engine.models import Instance

pytestmark = pytest.mark.django_db


def graph(code: str) -> dict:
    return {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                      {"id": "double", "type": "code", "position": {"x": 200, "y": 0}, "data": {"code": code}}],
            "edges": [{"id": "e1", "source": "start", "target": "double"}]}


def test_run_draft_without_publishing_it(api, tenant, drive):
    wf = api.post("/workflows", {"slug": "doubler", "draft": graph("return input.n * 2;")}).data
    api.post(f"/workflows/{wf['id']}/versions", {"graph": graph("return 0;"), "publish": True})

    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 21}})
    assert r.status_code == 201 and r.data["version"] == 2
    drive()
    instance = Instance.objects.get(pk=r.data["id"])
    assert instance.status == "complete" and json.loads(instance.output) == 42
    assert api.get(f"/workflows/{wf['id']}").data["published_version"] == 1  # the live version is untouched
    versions = api.get(f"/workflows/{wf['id']}/versions").data
    assert [(v["number"], v["published"]) for v in versions] == [(2, False), (1, True)]

    # An unchanged draft reuses its version; a changed one gets a new one.
    assert api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 1}}).data["version"] == 2
    api.patch(f"/workflows/{wf['id']}", {"draft": graph("return input.n * 3;")})
    assert api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 1}}).data["version"] == 3


def test_an_invalid_draft_is_refused_with_its_problems(api):
    wf = api.post("/workflows", {"slug": "broken", "draft": {"nodes": [], "edges": []}}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {})
    assert r.status_code == 422
    assert any(p["code"] == "no_trigger" for p in r.data["error"]["problems"])


def test_viewers_cannot_run_drafts(api, viewer_api):
    wf = api.post("/workflows", {"slug": "doubler", "draft": graph("return 1;")}).data
    assert viewer_api.post(f"/workflows/{wf['id']}/draft/instances", {}).status_code == 403
    assert viewer_api.post(f"/workflows/{wf['id']}/draft/version", {}).status_code == 403


def test_save_makes_the_draft_a_version_once(api, tenant):
    """The editor's Save: the draft becomes a version (unpublished) when it compiles; saving it
    unchanged returns the same version; an invalid draft stays saved and answers its problems."""
    wf = api.post("/workflows", {"slug": "saved", "draft": graph("return 1;")}).data
    r = api.post(f"/workflows/{wf['id']}/draft/version", {})
    assert r.status_code == 200 and r.data["number"] == 1 and not r.data["published"]
    assert api.post(f"/workflows/{wf['id']}/draft/version", {}).data["number"] == 1
    api.patch(f"/workflows/{wf['id']}", {"draft": graph("return 2;")})
    assert api.post(f"/workflows/{wf['id']}/draft/version", {}).data["number"] == 2
    assert api.get(f"/workflows/{wf['id']}").data["published_version"] is None

    api.patch(f"/workflows/{wf['id']}", {"draft": {"nodes": [], "edges": []}})
    r = api.post(f"/workflows/{wf['id']}/draft/version", {})
    assert r.status_code == 422 and any(p["code"] == "no_trigger" for p in r.data["error"]["problems"])
    assert api.get(f"/workflows/{wf['id']}").data["draft"] == {"nodes": [], "edges": []}
    assert [v["number"] for v in api.get(f"/workflows/{wf['id']}/versions").data] == [2, 1]


def webhook_graph(code: str) -> dict:
    return {"nodes": [{"id": "hook", "type": "webhook", "position": {"x": 0, "y": 0}, "data": {"auth": "none"}},
                      {"id": "total", "type": "code", "position": {"x": 200, "y": 0}, "data": {"code": code}}],
            "edges": [{"id": "e1", "source": "hook", "target": "total"}]}


def test_a_webhook_test_run_gets_a_delivery_like_a_real_one(api, drive):
    # Code written for production deliveries ({method, headers, query, body}) works in a test run.
    wf = api.post("/workflows", {"slug": "hooked", "draft": webhook_graph(
        "return [input.method, input.headers['content-type'], input.query, input.body.amount];")}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"amount": 7}})
    drive()
    assert json.loads(Instance.objects.get(pk=r.data["id"]).output) == ["POST", "application/json", {}, 7]

    # A captured delivery is passed as it came (the editor's "listen for a test event").
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": None, "delivery": {
        "method": "PUT", "headers": {"Content-Type": "text/plain"}, "query": {"a": "1"}, "body": {"amount": 9}}})
    drive()
    assert json.loads(Instance.objects.get(pk=r.data["id"]).output) == ["PUT", "text/plain", {"a": "1"}, 9]


def test_a_workflow_is_created_by_name_with_a_derived_slug(api):
    r = api.post("/workflows", {"name": "First Flow"})
    assert r.status_code == 201 and (r.data["slug"], r.data["name"]) == ("first-flow", "First Flow")
    assert api.post("/workflows", {"name": "First Flow"}).status_code == 409
    r = api.post("/workflows", {"name": "!!!"})
    assert r.status_code == 422 and r.data["error"]["field"] == "name"
