"""The REST API, operation by operation: happy paths, validation errors, roles, cross-tenant 404."""

from tests.builder.helpers import graph

from .conftest import Api


def test_unauthenticated_calls_answer_401_with_the_error_shape(db):
    r = Api(None).get("/workflows")
    assert r.status_code == 401 and r.data["error"]["code"] == "unauthenticated"
    r = Api("dw_nope_nope").get("/workflows")
    assert r.status_code == 401


def test_workflow_lifecycle(api, clock, drive):
    r = api.post("/workflows", {"slug": "orders", "name": "Orders"})
    assert r.status_code == 201
    wf = r.data
    assert api.post("/workflows", {"slug": "orders"}).status_code == 409
    bad = api.post("/workflows", {"slug": "Bad Slug"})
    assert bad.status_code == 422 and bad.data["error"]["field"] == "slug"
    g = graph([("start", "manual", {}), ("double", "code", {"code": "return input.n * 2;"})], [("start", "double")])
    assert api.patch(f"/workflows/{wf['id']}", {"draft": g}).data["draft"] == g
    v = api.post(f"/workflows/{wf['id']}/versions", {"graph": g, "publish": True})
    assert v.status_code == 201 and v.data["published"] is True and v.data["number"] == 1
    program = api.get(f"/workflows/{wf['id']}/versions/1/program")
    assert program.status_code == 200 and "export default async function run" in program.data
    inst = api.post(f"/workflows/{wf['id']}/instances", {"id": "order-1", "params": {"n": 4}})
    assert inst.status_code == 201 and inst.data["key"] == "order-1"
    drive()
    status = api.get(f"/instances/{inst.data['id']}").data
    assert (status["status"], status["output"]) == ("complete", 8)
    assert [s["name"] for s in status["steps"]] == ["double"]
    events = api.get(f"/instances/{inst.data['id']}/progress?after=0").data
    assert events[0]["type"] == "workflow_queued" and events[-1]["type"] == "workflow_completed"
    assert api.delete(f"/workflows/{wf['id']}").data["archived"] is True


def test_invalid_graph_answers_422_naming_the_node(api, workflow):
    g = graph([("start", "manual", {}), ("x", "http", {"url": 5})], [("start", "x")])
    r = api.post(f"/workflows/{workflow['id']}/versions", {"graph": g})
    assert r.status_code == 422
    assert r.data["error"]["code"] == "invalid_graph" and r.data["error"]["node_id"] == "x"
    assert r.data["error"]["problems"][0]["field"] == "data.url"
    assert api.post("/validate", {"graph": g}).data[0]["node_id"] == "x"


def test_instance_operations(api, workflow, clock, drive):
    sleeper = "export default async function run(e, step) { await step.sleep('nap', '1 hour'); return 'done'; }"
    api.post(f"/workflows/{workflow['id']}/versions", {"program": sleeper, "publish": True})
    inst = api.post(f"/workflows/{workflow['id']}/instances", {}).data
    drive()
    assert api.post(f"/instances/{inst['id']}/pause").data["status"] == "paused"
    assert api.post(f"/instances/{inst['id']}/resume").data["status"] == "queued"
    assert api.post(f"/instances/{inst['id']}/events", {"type": "poke", "payload": 1}).status_code == 202
    assert api.post(f"/instances/{inst['id']}/restart", {"from_step": "nap"}).data["status"] == "queued"
    assert api.post(f"/instances/{inst['id']}/terminate").data["status"] == "terminated"
    r = api.post(f"/instances/{inst['id']}/pause")
    assert r.status_code == 409 and r.data["error"]["code"] == "conflict"
    bad = api.post(f"/instances/{inst['id']}/events", {"payload": 1})
    assert bad.status_code == 422 and bad.data["error"]["field"] == "type"


def test_batch_and_list_with_cursor_pagination(api, workflow, clock):
    r = api.post(f"/workflows/{workflow['id']}/instances/batch", {"instances": [{"id": f"i{n}", "params": {"n": n}} for n in range(30)]})
    assert r.status_code == 201 and len(r.data) == 30
    assert api.post(f"/workflows/{workflow['id']}/instances/batch", {"instances": [{}] * 101}).status_code == 422
    seen, cursor = [], None
    while True:
        page = api.get(f"/instances?workflow={workflow['id']}&limit=7" + (f"&cursor={cursor}" if cursor else "")).data
        seen += [i["key"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"i{n}" for n in range(30))
    assert api.get("/instances?status=nonsense").status_code == 422
    assert api.get("/instances?cursor=garbage").status_code == 422
    import base64

    forged = base64.urlsafe_b64encode(b"not-a-date|also-not-a-uuid").decode()
    assert api.get(f"/instances?cursor={forged}").status_code == 422


def test_idempotency_key_replays_the_first_answer(api, workflow):
    path = f"/workflows/{workflow['id']}/instances"
    first = api.post(path, {"params": {"n": 1}}, **{"Idempotency-Key": "k1"})
    again = api.post(path, {"params": {"n": 1}}, **{"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201 and first.data["id"] == again.data["id"]
    other = api.post(path, {"params": {"n": 2}}, **{"Idempotency-Key": "k1"})
    assert other.status_code == 422 and other.data["error"]["field"] == "Idempotency-Key"


def test_restart_failed_instances_on_a_newer_version(api, clock, drive):
    wf = api.post("/workflows", {"slug": "fixme"}).data
    broken = graph([("start", "manual", {}), ("ok", "code", {"code": "return 1;"}),
                    ("bad", "code", {"code": "throw new Error('bug');", "retries": {"limit": 0}})],
                   [("start", "ok"), ("ok", "bad")])
    api.post(f"/workflows/{wf['id']}/versions", {"graph": broken, "publish": True})
    insts = [api.post(f"/workflows/{wf['id']}/instances", {}).data for _ in range(3)]
    drive()
    assert {api.get(f"/instances/{i['id']}").data["status"] for i in insts} == {"errored"}
    fixed = graph([("start", "manual", {}), ("ok", "code", {"code": "return 1;"}),
                   ("bad", "code", {"code": "return steps.ok + 1;"})], [("start", "ok"), ("ok", "bad")])
    api.post(f"/workflows/{wf['id']}/versions", {"graph": fixed, "publish": True})
    restarted = api.post(f"/workflows/{wf['id']}/instances/restart-failed", {}).data
    assert len(restarted) == 3 and {r["version"] for r in restarted} == {2}
    drive()
    for i in insts:
        s = api.get(f"/instances/{i['id']}").data
        assert s["status"] == "complete" and s["output"] == 2
        assert [x["attempts"] for x in s["steps"]] == [1, 1]  # "ok" kept its checkpoint: not run again


def test_secrets_keys_usage_and_me(api, viewer_api):
    assert api.put("/secrets/API_TOKEN", {"value": "s3cret"}).status_code == 204
    assert api.get("/secrets").data == ["API_TOKEN"]
    assert "s3cret" not in str(api.get("/secrets").data)
    assert api.put("/secrets/bad name", {"value": "x"}).status_code == 422
    created = api.post("/keys", {"name": "ci", "role": "viewer"})
    assert created.status_code == 201 and created.data["token"].startswith(created.data["prefix"])
    assert "token" not in api.get("/keys").data[0]
    assert Api(created.data["token"]).get("/me").data["role"] == "viewer"
    assert api.delete(f"/keys/{created.data['id']}").data["revoked_at"] is not None
    assert Api(created.data["token"]).get("/me").status_code == 401
    assert viewer_api.get("/secrets").status_code == 403
    assert api.delete("/secrets/API_TOKEN").status_code == 204
    assert api.get("/usage").status_code == 200


def test_viewers_cannot_edit_or_run(viewer_api, workflow):
    assert viewer_api.get("/workflows").status_code == 200
    r = viewer_api.post(f"/workflows/{workflow['id']}/instances", {})
    assert r.status_code == 403 and r.data["error"]["code"] == "forbidden"
    assert viewer_api.post("/workflows", {"slug": "nope"}).status_code == 403


def test_a_suspended_tenant_cannot_write(api, tenant, workflow):
    tenant.status = "suspended"
    tenant.save()
    r = api.post(f"/workflows/{workflow['id']}/instances", {})
    assert r.status_code == 423 and r.data["error"]["code"] == "tenant_suspended"
    assert api.get("/workflows").status_code == 200


def test_catalog_lists_every_node_type_with_its_schema(api):
    types = {n["type"]: n for n in api.get("/catalog").data}
    assert len(types) == 17 and types["http"]["schema"]["required"] == ["url"]


def test_session_users_pick_a_tenant_and_need_csrf(tenant, other_tenant, db):
    from django.contrib.auth.models import User
    from django.test import Client

    from tenants.models import Membership

    user = User.objects.create_user("ana", password="pw")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    Membership.objects.create(user=user, tenant=other_tenant, role="viewer")
    c = Client(enforce_csrf_checks=True)
    c.login(username="ana", password="pw")
    assert c.get("/api/v1/me").json()["tenant"] == "acme"
    assert c.get("/api/v1/me", HTTP_X_TENANT="globex").json()["role"] == "viewer"
    assert c.post("/api/v1/workflows", data='{"slug": "x"}', content_type="application/json").status_code in (401, 403)


def test_sign_up_sign_in_switch_tenant_and_members(tenant, db, mailoutbox):
    """The browser's whole path: sign up (creates the owned tenant), verify the address from the
    mail, sign in, join another tenant by invitation, switch to it. (tests/tenants/test_accounts.py
    covers each part in depth.)"""
    import re

    from django.test import Client

    from tenants.accounts.invitations import invitation_create

    c = Client()
    assert c.get("/accounts/signup/").status_code == 200
    r = c.post("/accounts/signup/", {"username": "bo", "email": "bo@example.com", "password1": "a-long-password",
                                     "password2": "a-long-password", "tenant": "bo-co"})
    assert r.status_code == 302 and r["Location"] == "/accounts/confirm-email/"
    assert c.get("/api/v1/me").status_code == 401  # not before the address is verified
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", mailoutbox[-1].body).group(1)
    assert c.post(link).status_code == 302
    assert c.get("/api/v1/me").json() == {"tenant": "bo-co", "role": "owner", "tenants": ["bo-co"], "user": "bo"}
    c.post("/accounts/logout/")
    assert c.get("/api/v1/me").status_code == 401
    taken = c.post("/accounts/signup/", {"username": "bo", "email": "b2@example.com", "password1": "a-long-password",
                                         "password2": "a-long-password", "tenant": "bo-co2"})
    assert taken.status_code == 200 and "already exists" in taken.content.decode()
    assert c.post("/accounts/login/", {"login": "bo", "password": "a-long-password"}).status_code == 302
    # acme's owner invites bo as a viewer; bo accepts from the invitations page.
    invitation = invitation_create(tenant=tenant, to="bo", role="viewer", invited_by="ana", base_url="http://testserver/")
    assert c.post("/accounts/invitations/", {"id": invitation.pk}).status_code == 302
    me = c.post("/api/v1/me/tenant", data='{"tenant": "acme"}', content_type="application/json").json()
    assert (me["tenant"], me["role"]) == ("acme", "viewer")
    assert c.get("/api/v1/me").json()["tenant"] == "acme"  # remembered in the session
    assert c.post("/api/v1/me/tenant", data='{"tenant": "globex"}', content_type="application/json").status_code == 404
    members = c.get("/api/v1/members").json()
    assert {"username": "bo", "role": "viewer"} in members
    assert c.delete("/api/v1/members/bo").status_code == 403


def test_administrative_actions_are_audited_without_secret_values(api, tenant, workflow):
    from tenants.models import AuditEntry
    from tenants.services import tenant_suspend, tenant_unsuspend

    api.put("/secrets/TOKEN", {"value": "super-secret-value"})
    key = api.post("/keys", {"name": "ci"}).data
    api.delete(f"/keys/{key['id']}")
    api.post(f"/workflows/{workflow['id']}/versions/1/publish")
    tenant_suspend(tenant=tenant, actor="ops@example.com", ip="10.0.0.9")
    tenant_unsuspend(tenant=tenant, actor="ops@example.com")
    rows = list(AuditEntry.objects.filter(tenant=tenant).order_by("pk").values_list("actor", "action", "target", "ip"))
    actions = [r[1] for r in rows]
    assert actions[-6:] == ["secret.put", "key.create", "key.revoke", "version.publish", "tenant.suspend", "tenant.unsuspend"]
    assert rows[-6][0].startswith("key:dw_") and rows[-6][3] == "127.0.0.1"
    assert rows[-2][:2] == ("ops@example.com", "tenant.suspend") and rows[-2][3] == "10.0.0.9"
    assert "super-secret-value" not in str(list(AuditEntry.objects.values()))


def test_audit_entries_are_purged_after_the_retention_period(tenant, settings):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.audit import audit_purge, audit_record
    from tenants.models import AuditEntry

    old = audit_record(action="x", actor="a", tenant=tenant)
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    audit_record(action="y", actor="a", tenant=tenant)
    settings.AUDIT_RETENTION_DAYS = 365
    assert audit_purge() == 1
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["y"]


def test_params_and_event_payloads_over_1_mib_answer_422(api, workflow):
    big = {"blob": "x" * (1024 * 1024)}
    r = api.post(f"/workflows/{workflow['id']}/instances", {"params": big})
    assert r.status_code == 422 and r.data["error"]["field"] == "params"
    inst = api.post(f"/workflows/{workflow['id']}/instances", {}).data
    r = api.post(f"/instances/{inst['id']}/events", {"type": "t", "payload": big})
    assert r.status_code == 422 and r.data["error"]["field"] == "payload"


def test_list_filters_past_the_databases_integers_answer_422(client, tenant):
    from tenants.access import api_key_create

    _, key = api_key_create(tenant=tenant, name="k")
    for field in ("workflow", "version"):
        r = client.get(f"/api/v1/instances?{field}=99999999999999999999", HTTP_AUTHORIZATION=f"Bearer {key}")
        assert r.status_code == 422 and r.json()["error"]["field"] == field


def test_an_expression_is_previewed_against_sample_data_in_the_sandbox(api):
    ctx = {"input": {"total": 120}, "steps": {"fetch": {"items": [1, 2]}}, "event": {"payload": {"id": 7}}}
    assert api.post("/preview", {"value": "{{ input.total > 100 }}", "context": ctx}).data == {"ok": True, "value": True, "error": None}
    answer = api.post("/preview", {"value": "order {{ event.payload.id }}: {{ steps.fetch.items }}", "context": ctx}).data
    assert answer["value"] == "order 7: [1,2]"
    bad = api.post("/preview", {"value": "{{ input.missing.deeper }}", "context": ctx}).data
    assert bad["ok"] is False and bad["error"].startswith("in {{ input.missing.deeper }}:")
    # Bounded by the host: an endless loop stops, an oversized sample is refused.
    assert api.post("/preview", {"value": "{{ (() => { while (true) {} })() }}", "context": {}}).data["ok"] is False
    r = api.post("/preview", {"value": "{{ 1 }}", "context": {"input": "x" * 300_000}})
    assert r.status_code == 422 and r.data["error"]["field"] == "context"
