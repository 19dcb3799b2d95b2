"""The code-first editor's API: a draft that is a program, saved as versions, validated, run; the
step API's declarations; errors that name the program's line."""
import json

import pytest
from django.test import Client

from engine.models import Instance, StepRecord

pytestmark = pytest.mark.django_db

PROGRAM = """export default async function run(event, step) {
  const n = await step.do("double", async () => event.payload.n * 2);
  if (n > 100) {
    await step.do("too_big", { retries: { limit: 0 } }, async () => { throw new Error("over 100"); });
  }
  return n;
}
"""


def test_a_code_first_draft_becomes_versions_and_runs(api, drive):
    wf = api.post("/workflows", {"name": "Doubler", "draft": {"program": PROGRAM}}).data
    made = api.post(f"/workflows/{wf['id']}/draft/version")
    assert made.status_code == 200 and made.data["number"] == 1 and made.data["graph"] is None
    assert api.post(f"/workflows/{wf['id']}/draft/version").data["number"] == 1  # unchanged: the same version
    assert api.get(f"/workflows/{wf['id']}/versions/1/program").content.decode() == PROGRAM

    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 21}})
    assert r.status_code == 201 and r.data["version"] == 1
    drive()
    assert json.loads(Instance.objects.get(pk=r.data["id"]).output) == 42

    # A failing step names the line of the program it failed on, in the API's step history.
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 60}})
    drive()
    status = api.get(f"/instances/{r.data['id']}").data
    failed = next(s for s in status["steps"] if s["name"] == "too_big")
    assert failed["error"]["frames"][0]["line"] == 4
    assert "program:" not in json.dumps(status)
    assert StepRecord.objects.filter(instance_id=r.data["id"], name="too_big", status="errored").exists()


def test_a_code_first_draft_that_does_not_compile_is_refused_with_its_line(api):
    wf = api.post("/workflows", {"name": "Broken", "draft": {"program": "export default async function run(event, step) {\n  return (;\n}\n"}}).data
    r = api.post(f"/workflows/{wf['id']}/draft/version")
    assert r.status_code == 422 and r.data["error"]["code"] == "invalid_program" and r.data["error"]["line"] == 2
    assert api.get(f"/workflows/{wf['id']}/versions").data == []


def test_validate_program(api, other_api):
    assert api.post("/validate-program", {"program": PROGRAM}).data == []
    found = api.post("/validate-program", {"program": 'import x from "nowhere";\nexport default async function run() {}'}).data
    assert len(found) == 1 and "nowhere" in found[0]["message"]
    assert api.post("/validate-program", {}).status_code == 422


def test_the_step_api_declarations_are_served():
    r = Client().get("/editor/step-api.d.ts")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/typescript")
    text = r.content.decode()
    for name in ("interface WorkflowStep", "waitForEvent", "sleepUntil", "rollback", "class NonRetryableError", "secret(name"):
        assert name in text
