"""The API of saga rollbacks: terminate with `{"rollback": true}`, the instance status's rollback
phase and rollback steps, bad bodies answered 422, another tenant's instance 404."""
import pytest

from engine.models import Instance

pytestmark = pytest.mark.django_db

SAGA = """
export default async function run(event, step) {
  await step.do("book", async () => ({ id: "b-1" }), { rollback: async ({ output }) => { console.log("cancel " + output.id); } });
  await step.sleep("nap", "1 day");
}"""


@pytest.fixture
def waiting(api, clock, drive):
    wf = api.post("/workflows", {"slug": "saga"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"program": SAGA, "publish": True}).status_code == 201
    inst = api.post(f"/workflows/{wf['id']}/instances", {}).data
    drive()
    assert Instance.objects.get(pk=inst["id"]).status == "waiting"
    return inst["id"]


def test_terminate_with_rollback_then_the_status_shows_the_phase(api, waiting, drive):
    r = api.post(f"/instances/{waiting}/terminate", {"rollback": True})
    assert r.status_code == 200 and r.data["status"] == "queued", r.data
    drive()
    status = api.get(f"/instances/{waiting}").data
    assert status["status"] == "terminated"
    assert status["rollback"]["reason"] == "terminate" and status["rollback"]["finished"]
    assert (status["rollback"]["completed"], status["rollback"]["failed"]) == (1, 0)
    undo = [s for s in status["steps"] if s["rollback"]]
    assert [(s["name"], s["status"], s["attempts"]) for s in undo] == [("book", "complete", 1)]
    progress = api.get(f"/instances/{waiting}/progress").data
    assert [e["type"] for e in progress if e["type"].startswith("rollback")] == [
        "rollbacks_started", "rollback_started", "rollback_attempt_started", "rollback_completed"]
    assert progress[-1]["type"] == "workflow_terminated" and progress[-1]["rollbacks"] == {"completed": 1, "failed": 0}


def test_terminate_without_a_body_stops_at_once(api, waiting):
    r = api.post(f"/instances/{waiting}/terminate")
    assert r.status_code == 200 and r.data["status"] == "terminated"
    assert api.get(f"/instances/{waiting}").data["rollback"] is None


def test_a_bad_terminate_body_is_refused_and_another_tenants_instance_is_not_found(api, other_api, waiting):
    r = api.post(f"/instances/{waiting}/terminate", {"rollback": "sometimes"})
    assert r.status_code == 422 and "rollback" in str(r.data)
    assert Instance.objects.get(pk=waiting).status == "waiting"
    assert other_api.post(f"/instances/{waiting}/terminate", {"rollback": True}).status_code == 404
    assert Instance.objects.get(pk=waiting).rollback is None


def test_terminate_with_rollback_of_a_finished_instance_is_a_conflict(api, waiting):
    api.post(f"/instances/{waiting}/terminate")
    assert api.post(f"/instances/{waiting}/terminate", {"rollback": True}).data["status"] == "terminated"
    wf = api.post("/workflows", {"slug": "done"}).data
    api.post(f"/workflows/{wf['id']}/versions", {"program": "export default async function run() { return 1; }", "publish": True})
    inst = api.post(f"/workflows/{wf['id']}/instances", {}).data
    Instance.objects.filter(pk=inst["id"]).update(status="complete")
    r = api.post(f"/instances/{inst['id']}/terminate", {"rollback": True})
    assert r.status_code == 409 and r.data["error"]["field"] == "status"
