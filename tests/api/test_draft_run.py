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
