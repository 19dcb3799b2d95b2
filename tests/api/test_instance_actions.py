"""Instance actions and reads the live view uses: approve/reject a waiting approval, list filters, version numbers."""
import pytest

from engine.models import Instance

from .conftest import CODE

pytestmark = pytest.mark.django_db

GRAPH = {
    "nodes": [
        {"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "manager", "type": "approval", "position": {"x": 0, "y": 0}, "data": {"timeout": "1 day"}},
        {"id": "yes", "type": "code", "position": {"x": 0, "y": 0}, "data": {"code": "return 'approved by ' + input.by;"}},
        {"id": "no", "type": "code", "position": {"x": 0, "y": 0}, "data": {"code": "return 'rejected';"}},
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "manager"},
        {"id": "e2", "source": "manager", "target": "yes", "sourceHandle": "approved"},
        {"id": "e3", "source": "manager", "target": "no", "sourceHandle": "rejected"},
    ],
}


@pytest.fixture
def waiting(api, clock, drive):
    wf = api.post("/workflows", {"slug": "approve-me"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"graph": GRAPH, "publish": True}).status_code == 201
    inst = api.post(f"/workflows/{wf['id']}/instances", {}).data
    drive()
    assert Instance.objects.get(pk=inst["id"]).status == "waiting"
    return inst["id"]


def test_an_approval_is_decided_from_the_api_and_the_instance_takes_that_handle(api, waiting, drive):
    r = api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve", "comment": "fine"})
    assert r.status_code == 200, r.data
    assert r.data == {"instance": waiting, "step": "manager", "decision": "approve"}
    drive()
    got = api.get(f"/instances/{waiting}").data
    # Both code nodes end the flow, so the output is keyed by the one that ran.
    assert got["status"] == "complete" and got["output"]["yes"].startswith("approved by key:dw_")
    assert [s["name"] for s in got["steps"]] == ["manager", "yes"]


def test_only_a_waiting_approval_can_be_decided(api, waiting, drive):
    assert api.post(f"/instances/{waiting}/approvals/yes", {"decision": "approve"}).status_code == 409
    assert api.post(f"/instances/{waiting}/approvals/manager", {"decision": "maybe"}).status_code == 422
    assert api.post(f"/instances/{waiting}/approvals/manager", {"decision": "reject"}).status_code == 200
    # A second decision before the instance took the first is refused, not left in the inbox.
    r = api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve"})
    assert r.status_code == 409 and "already decided" in r.data["error"]["message"]
    drive()
    assert api.get(f"/instances/{waiting}").data["output"] == {"no": "rejected"}
    r = api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve"})  # finished now
    assert r.status_code == 409 and r.data["error"]["field"] == "step"


def test_a_nul_character_in_the_step_or_comment_is_refused_not_a_server_error(api, waiting):
    # PostgreSQL refuses U+0000 in text and jsonb: both must be answered before they reach it.
    r = api.post(f"/instances/{waiting}/approvals/ma%00nager", {"decision": "approve"})
    assert r.status_code == 422 and r.data["error"]["field"] == "path"
    r = api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve", "comment": "a\u0000b"})
    assert r.status_code == 422 and r.data["error"]["field"] == "comment"
    r = api.post(f"/instances/{waiting}/events", {"type": "x", "payload": {"k\u0000": 1}})
    assert r.status_code == 422 and r.data["error"]["field"] == "payload"
    assert Instance.objects.get(pk=waiting).status == "waiting"


def test_viewers_cannot_decide_and_other_tenants_see_nothing(waiting, viewer_api, other_api):
    assert viewer_api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve"}).status_code == 403
    assert other_api.post(f"/instances/{waiting}/approvals/manager", {"decision": "approve"}).status_code == 404
    assert Instance.objects.get(pk=waiting).status == "waiting"


def test_the_list_filters_by_version_number_and_get_names_the_version(api, waiting, workflow):
    assert api.post(f"/workflows/{workflow['id']}/versions", {"program": CODE, "publish": True}).status_code == 201
    on_v2 = api.post(f"/workflows/{workflow['id']}/instances", {"params": {"n": 1}}).data
    assert api.get(f"/instances?workflow={workflow['id']}&version=2").data["items"][0]["id"] == on_v2["id"]
    assert api.get(f"/instances?workflow={workflow['id']}&version=1").data["items"] == []
    got = api.get(f"/instances/{waiting}").data
    assert got["version_number"] == 1 and api.get(f"/instances/{on_v2['id']}").data["version_number"] == 2
