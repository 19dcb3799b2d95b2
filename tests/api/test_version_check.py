"""POST /workflows/{id}/versions/{n}/check, the workflow's concurrency setting, and
`manage.py deploy_check`: through the API's own client, through daphne, and from a shell."""
import json
import subprocess
import sys

import httpx
import pytest
from django.core.management import call_command

from engine import services
from engine.models import Instance
from tests.processes import ROOT, child_env, start_daphne, stop

V1 = """
export default async function run(event, step) {
  await step.do("fetch", async () => 1);
  await step.do("charge", async () => 2);
  await step.sleep("cool_off", "1 day");
  return await step.do("ship", async () => 3);
}"""
RENAMED = V1.replace('"charge"', '"bill"')


def sleeping_workflow(api, tenant, drive, count=3):
    wf = api.post("/workflows", {"name": "Orders"}).data
    assert api.post(f"/workflows/{wf['id']}/versions", {"program": V1, "publish": True}).status_code == 201
    for n in range(count):
        assert api.post(f"/workflows/{wf['id']}/instances", {"id": f"o{n}", "params": {}}).status_code == 201
    drive()
    assert api.post(f"/workflows/{wf['id']}/versions", {"program": RENAMED}).status_code == 201
    return wf


def test_the_check_reports_per_instance_and_changes_nothing(api, tenant, clock, drive):
    wf = sleeping_workflow(api, tenant, drive)
    r = api.post(f"/workflows/{wf['id']}/versions/2/check")
    assert r.status_code == 200, r.data
    body = r.data
    assert (body["version"], body["published"], body["checked"], body["truncated"]) == (2, 1, 3, False)
    assert body["in_flight"] == {"total": 3, "continues": 0, "diverges": 3, "fails": 0, "diverges_at": {"charge": 3}}
    assert [(i["key"], i["status"], i["version"], i["verdict"], i["step"], i["expected"], i["got"]) for i in body["instances"]] == [
        (f"o{n}", "waiting", 1, "diverges", "charge", "charge", "bill") for n in range(3)]
    assert body["summary"] == "3 in-flight instances stay on v1; on v2 their checkpoints would hold for 0, diverge at `charge` for 3."
    assert api.get(f"/workflows/{wf['id']}").data["published_version"] == 1  # a check publishes nothing
    assert set(Instance.objects.values_list("status", flat=True)) == {"waiting"}


def test_the_check_is_tenant_scoped_and_refuses_bad_input(api, other_api, viewer_api, tenant, clock, drive):
    wf = sleeping_workflow(api, tenant, drive, count=1)
    for path in (f"/workflows/{wf['id']}/versions/2/check", f"/workflows/{wf['id']}/versions/9/check",
                 "/workflows/999999/versions/1/check"):
        r = other_api.post(path)
        assert r.status_code == 404 and r.data["error"]["code"], (path, r.data)
    assert api.post(f"/workflows/{wf['id']}/versions/9/check").status_code == 404
    assert api.post(f"/workflows/{wf['id']}/versions/two/check").status_code == 422
    assert api.post(f"/workflows/abc/versions/1/check").status_code == 422
    assert viewer_api.post(f"/workflows/{wf['id']}/versions/2/check").status_code == 403


def test_the_concurrency_setting_through_the_api(api, other_api, tenant):
    wf = api.post("/workflows", {"name": "Limited"}).data
    assert wf["concurrency"] is None
    r = api.patch(f"/workflows/{wf['id']}", {"concurrency": {"limit": 3}})
    assert r.status_code == 200 and r.data["concurrency"] == {"limit": 3}
    assert api.get(f"/workflows/{wf['id']}").data["concurrency"] == {"limit": 3}
    assert api.patch(f"/workflows/{wf['id']}", {"name": "Still limited"}).data["concurrency"] == {"limit": 3}
    for bad in ({"limit": 0}, {"limit": 10_001}, {"limit": "many"}, {"limit": 1.5}, {}, "3"):
        r = api.patch(f"/workflows/{wf['id']}", {"concurrency": bad})
        assert r.status_code == 422, (bad, r.data)
        assert "concurrency" in json.dumps(r.data["error"]), r.data
    # A refused patch changes nothing, not even the part that was fine.
    assert api.patch(f"/workflows/{wf['id']}", {"name": "x" * 201, "concurrency": {"limit": 5}}).status_code == 422
    assert api.get(f"/workflows/{wf['id']}").data["concurrency"] == {"limit": 3}
    assert other_api.patch(f"/workflows/{wf['id']}", {"concurrency": {"limit": 1}}).status_code == 404
    r = api.patch(f"/workflows/{wf['id']}", {"concurrency": None})
    assert r.status_code == 200 and r.data["concurrency"] is None


def test_the_management_command_prints_the_check(api, tenant, clock, drive, capsys):
    sleeping_workflow(api, tenant, drive, count=2)
    call_command("deploy_check", tenant.slug, "orders", "2")
    out = capsys.readouterr().out.splitlines()
    assert out == ["o0  waiting  v1  diverges at charge: expected charge, got bill",
                   "o1  waiting  v1  diverges at charge: expected charge, got bill",
                   "2 in-flight instances stay on v1; on v2 their checkpoints would hold for 0, diverge at `charge` for 2."]
    call_command("deploy_check", tenant.slug, "orders", "1", "--json")
    assert json.loads(capsys.readouterr().out)["checked"] == 0  # every instance is on v1 already
    with pytest.raises(SystemExit) as exit_:
        call_command("deploy_check", tenant.slug, "orders", "2", "--strict")
    assert exit_.value.code == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("deploy_check", tenant.slug, "nope", "2")


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_check_through_daphne_and_the_command_in_a_process(tenant, make_workflow):
    from builder.services import version_create_from_code
    from tenants.access import api_key_create

    wf = make_workflow(V1, slug="orders")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    from engine import worker

    worker.run(name="t", until_idle=True)
    version_create_from_code(workflow=wf, program=RENAMED, publish=False)
    token = api_key_create(tenant=tenant, name="k", role="editor")[1]
    proc, port = start_daphne("check-daphne")
    try:
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/workflows/{wf.pk}/versions/2/check",
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
    finally:
        stop(proc)
    assert r.status_code == 200, r.text
    assert [(i["id"], i["verdict"], i["step"], i["got"]) for i in r.json()["instances"]] == [(str(inst.pk), "diverges", "charge", "bill")]
    done = subprocess.run([sys.executable, "manage.py", "deploy_check", tenant.slug, "orders", "2", "--strict"],
                          cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "diverges at charge: expected charge, got bill" in done.stdout, done.stderr
