"""The operator console (Django admin at /admin/): tenant pages, plan limits, suspension, API keys,
workflows, instances with single and bulk actions run through the real engine, and the audit log."""
import json
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from engine import services
from engine.models import Event, Instance, StepRecord
from tenants.access import api_key_create
from tenants.limits import limits_for
from tenants.models import ApiKey, AuditEntry, Membership, Tenant, Usage

from tests.accounts import operator_client, person

from . import capabilities
from .conftest import GATED, OPERATOR_IP, bulk, confirm

pytestmark = pytest.mark.django_db

PAGES = ["/admin/", "/admin/tenants/tenant/", "/admin/engine/instance/", "/admin/builder/workflow/",
         "/admin/builder/workflowversion/", "/admin/tenants/apikey/", "/admin/tenants/auditentry/"]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def hidden_inputs(response) -> dict:
    """The page's hidden inputs (inline management forms, row ids), as a browser would post them."""
    found = {}
    for tag in re.findall(r"<input[^>]*>", response.content.decode()):
        if 'type="hidden"' in tag and (name := re.search(r'name="([^"]+)"', tag)):
            value = re.search(r'value="([^"]*)"', tag)
            found[name.group(1)] = value.group(1) if value else ""
    found.pop("csrfmiddlewaretoken", None)
    return found


def statuses(ids) -> set[str]:
    return set(Instance.objects.filter(pk__in=ids).values_list("status", flat=True))


# -- permissions ---------------------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_the_login_page(client, tenant):
    for url in PAGES + [f"/admin/tenants/tenant/{tenant.pk}/change/", f"/admin/tenants/tenant/{tenant.pk}/suspend/"]:
        r = client.get(url)
        assert r.status_code == 302 and "/admin/login/" in r["Location"], url
    r = client.post(f"/admin/tenants/tenant/{tenant.pk}/suspend/", {"confirm": "yes"})
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert Tenant.objects.get(pk=tenant.pk).status == "active"


def test_people_who_are_not_staff_are_refused(tenant, workflow_of, clock, drive):
    person = User.objects.create_user("member", password="a-long-password")
    Membership.objects.create(user=person, tenant=tenant, role="owner")
    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant))
    drive()
    c = Client()
    c.force_login(person)
    for url in PAGES + [f"/admin/engine/instance/{inst.pk}/change/"]:
        r = c.get(url)
        assert r.status_code == 302 and "/admin/login/" in r["Location"], url
    c.post(f"/admin/tenants/tenant/{tenant.pk}/suspend/", {"confirm": "yes"})
    c.post(f"/admin/engine/instance/{inst.pk}/terminate/", {"confirm": "yes"})
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    assert Instance.objects.get(pk=inst.pk).status == "waiting"
    assert not AuditEntry.objects.exists()


def test_staff_without_permissions_see_nothing_and_cannot_act(tenant, workflow_of, clock, drive):
    staff = person("viewer")
    staff.is_staff = True
    staff.save()
    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant))
    drive()
    c = operator_client(Client(), staff)  # with the second factor every staff session needs
    assert c.get("/admin/engine/instance/").status_code == 403
    assert c.get("/admin/tenants/tenant/").status_code == 403
    assert c.post(f"/admin/engine/instance/{inst.pk}/terminate/", {"confirm": "yes"}).status_code == 403
    assert c.post(f"/admin/tenants/tenant/{tenant.pk}/suspend/", {"confirm": "yes"}).status_code == 403
    # View permission alone: the instance is visible, its actions are not offered and refused.
    staff.user_permissions.add(Permission.objects.get(codename="view_instance"))
    page = text(c.get(f"/admin/engine/instance/{inst.pk}/change/"))
    assert inst.public_key in page and "/terminate/" not in page
    assert c.post(f"/admin/engine/instance/{inst.pk}/terminate/", {"confirm": "yes"}).status_code == 403
    assert bulk(c, "bulk_terminate", [inst.pk]).status_code in (200, 302)
    staff.user_permissions.add(Permission.objects.get(codename="view_tenant"))
    page = text(c.get(f"/admin/tenants/tenant/{tenant.pk}/change/"))
    assert "acme" in page and "/suspend/" not in page
    assert c.post(f"/admin/tenants/tenant/{tenant.pk}/suspend/", {"confirm": "yes"}).status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    assert Instance.objects.get(pk=inst.pk).status == "waiting" and not AuditEntry.objects.exists()


# -- tenants -------------------------------------------------------------------------------------

def test_the_tenant_list_shows_usage_against_quotas_and_instance_counts(console, tenant, other_tenant, workflow_of):
    today = timezone.now().date()
    Usage.objects.create(tenant=tenant, day=today, steps=1234, cpu_ms=5678, http_calls=42, bytes_stored=2048)
    Usage.objects.create(tenant=tenant, day=today.replace(day=1) - timedelta(days=1), steps=10**6, bytes_stored=1024)
    tenant.limits = {"steps_per_month": 2000}
    tenant.save()
    wf = workflow_of(tenant)
    now = timezone.now()
    rows = [("running", 2), ("waitingForPause", 1), ("waiting", 4), ("errored", 3), ("complete", 5)]
    Instance.objects.bulk_create([
        Instance(tenant=tenant, workflow=wf, version=wf.published_version, key=f"{status}-{n}", status=status,
                 created_at=now)
        for status, count in rows for n in range(count)
    ])
    page = text(console.get("/admin/tenants/tenant/"))
    assert "acme" in page and "globex" in page
    assert "1,234" in page and "(62% of 2,000)" in page  # this month's steps only, against the plan's quota
    assert "5,678" in page and "42" in page and "3.0 KiB" in page  # stored: every day counts
    assert "custom (1)" in page and "default" in page
    acme_row = page[page.index(">acme<"):page.index(">globex<")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", acme_row)
    assert [re.sub("<[^>]+>", "", c).strip() for c in cells[-3:]] == ["3", "4", "3"]  # running, waiting, failed


def test_the_tenant_list_costs_the_same_queries_for_5_or_50_tenants(console, workflow_of):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants.services import tenant_create

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert console.get("/admin/tenants/tenant/").status_code == 200
        return len(ctx.captured_queries)

    def add(n, start):
        for i in range(start, start + n):
            t = tenant_create(slug=f"t{i:03d}")
            Usage.objects.create(tenant=t, day=timezone.now().date(), steps=i)
            wf = workflow_of(t)
            Instance.objects.create(tenant=t, workflow=wf, version=wf.published_version, key="k", status="errored",
                                    created_at=timezone.now())

    add(5, 0)
    few = queries()
    add(45, 5)
    assert queries() == few <= 12


def test_plan_limits_are_edited_validated_and_audited(console, tenant):
    url = f"/admin/tenants/tenant/{tenant.pk}/change/"
    r = console.get(url)
    page, form = text(r), hidden_inputs(r)
    assert "steps per month" in page and "default 10,000,000" in page

    r = console.post(url, {**form, "limit_steps_per_month": "5000", "limit_advance_time_seconds": "2.5",
                           "limit_concurrent_instances": "50"})  # 50 is the default: not stored
    assert r.status_code == 302
    tenant.refresh_from_db()
    assert tenant.limits == {"steps_per_month": 5000, "advance_time_seconds": 2.5}
    assert limits_for(tenant).steps_per_month == 5000 and limits_for(tenant).concurrent_instances == 50
    entry = AuditEntry.objects.get(action="tenant.limits")
    assert (entry.actor, entry.ip, entry.tenant_id) == ("ops", OPERATOR_IP, tenant.pk)
    assert entry.details == {"before": {}, "after": tenant.limits}

    for bad in ({"limit_steps_per_month": "-1"}, {"limit_steps_per_month": "lots"},
                {"limit_steps_per_month": "1.5"}, {"limit_advance_time_seconds": "0"}):
        r = console.post(url, {**form, **bad})
        assert r.status_code == 200 and "errorlist" in r.content.decode(), bad
    tenant.refresh_from_db()
    assert tenant.limits == {"steps_per_month": 5000, "advance_time_seconds": 2.5}

    current = {f"limit_{k}": v for k, v in tenant.limits.items()}
    assert console.post(url, {**form, **current}).status_code == 302  # saved unchanged: no entry
    assert AuditEntry.objects.filter(action="tenant.limits").count() == 1
    r = console.post(url, form)  # every field blank: back to the defaults
    tenant.refresh_from_db()
    assert tenant.limits == {} and AuditEntry.objects.filter(action="tenant.limits").count() == 2


def test_the_service_refuses_unknown_or_bad_limits(tenant):
    from tenants.errors import InvalidInput
    from tenants.services import tenant_limits_set

    for bad in ({"nope": 1}, {"steps_per_month": 0}, {"steps_per_month": True}, {"stack_kb": 1.5},
                {"stack_kb": "12"}):
        with pytest.raises(InvalidInput):
            tenant_limits_set(tenant=tenant, limits=bad)
    assert Tenant.objects.get(pk=tenant.pk).limits == {}


def test_suspension_asks_first_with_its_impact(console, tenant, workflow_of, clock, drive):
    wf = workflow_of(tenant)
    for _ in range(2):
        services.instance_create(tenant=tenant, workflow=wf)
    drive()  # two sleeping (waiting)
    services.instance_create(tenant=tenant, workflow=wf)  # one queued
    url = f"/admin/tenants/tenant/{tenant.pk}/suspend/"
    page = text(console.get(url))
    assert "Suspend tenant acme" in page
    assert "0 running instance(s) pause at their next step boundary" in page
    assert "3 queued or waiting instance(s) (1 queued, 2 waiting) pause now" in page
    assert "Nothing is lost" in page
    assert Tenant.objects.get(pk=tenant.pk).status == "active"  # a GET never acts
    assert console.post(url).status_code == 200  # nor a POST without the confirmation
    assert Tenant.objects.get(pk=tenant.pk).status == "active"


def test_a_suspension_round_trip_loses_nothing(console, tenant, other_tenant, workflow_of, clock, drive):
    wf = workflow_of(tenant)
    waiter = workflow_of(tenant, """
    export default async function run(event, step) {
      const a = await step.do("before", async () => "b");
      const e = await step.waitForEvent("approval", { type: "approve", timeout: "1 day" });
      return [a, e.payload];
    }""", slug="waiter")
    sleeping = [services.instance_create(tenant=tenant, workflow=wf) for _ in range(3)]
    waiting = services.instance_create(tenant=tenant, workflow=waiter)
    drive()
    services.event_send(tenant=tenant, instance_id=waiting.pk, type="approve", payload={"ok": True})
    queued = services.instance_create(tenant=tenant, workflow=wf)
    user_paused = services.instance_create(tenant=tenant, workflow=wf)
    services.instance_pause(tenant=tenant, instance_id=user_paused.pk)
    bystander = services.instance_create(tenant=other_tenant, workflow=workflow_of(other_tenant))
    ours = [*sleeping, waiting, queued]

    r = confirm(console, f"/admin/tenants/tenant/{tenant.pk}/suspend/")
    assert r.status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    assert statuses([i.pk for i in ours]) == {"paused"}
    entry = AuditEntry.objects.get(action="tenant.suspend")
    assert (entry.actor, entry.ip) == ("ops", OPERATOR_IP)
    # Nothing of the suspended tenant runs, however long we wait; the other tenant's does.
    clock.advance(hours=3)
    drive()
    assert statuses([i.pk for i in ours + [user_paused]]) == {"paused"}
    assert Instance.objects.get(pk=bystander.pk).status == "waiting"
    assert "Unsuspend" in text(console.get(f"/admin/tenants/tenant/{tenant.pk}/change/"))
    page = text(console.get(f"/admin/tenants/tenant/{tenant.pk}/unsuspend/"))
    assert "5 instance(s) paused by the suspension resume where they stopped" in page

    assert confirm(console, f"/admin/tenants/tenant/{tenant.pk}/unsuspend/").status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).status == "active"
    drive()
    clock.advance(hours=1)
    drive()
    for inst in sleeping + [queued]:
        inst.refresh_from_db()
        assert (inst.status, json.loads(inst.output)) == ("complete", 3)
    waiting.refresh_from_db()
    assert (waiting.status, json.loads(waiting.output)) == ("complete", ["b", {"ok": True}])
    assert Instance.objects.get(pk=user_paused.pk).status == "paused"  # paused by someone else: stays paused
    # Each committed step ran once: suspension replayed them, it did not run them again.
    assert set(StepRecord.objects.filter(instance__in=ours, kind="do").values_list("attempts", flat=True)) == {1}
    assert AuditEntry.objects.filter(action="tenant.unsuspend", actor="ops", ip=OPERATOR_IP).count() == 1


def test_a_running_instance_pauses_at_its_next_step_boundary_when_its_tenant_is_suspended(
        console, tenant, workflow_of, clock, drive, settings):
    """The console suspends the tenant while a worker is inside a step of its instance."""
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES,
                                    "suspendFromConsole": "tests.console.test_admin.suspend_from_console"}
    wf = workflow_of(tenant, """
    export default async function run(event, step) {
      const a = await step.do("a", async () => step.suspendFromConsole({}));
      const b = await step.do("b", async () => "after");
      return [a, b];
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    _console_for_capability.update(client=console, url=f"/admin/tenants/tenant/{tenant.pk}/suspend/")
    drive()
    inst.refresh_from_db()
    assert inst.status == "paused" and inst.suspended
    assert list(StepRecord.objects.filter(instance=inst).values_list("name", "status")) == [("a", "complete")]
    confirm(console, f"/admin/tenants/tenant/{tenant.pk}/unsuspend/")
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", ["running", "after"])


_console_for_capability: dict = {}


def suspend_from_console(call):
    before = Instance.objects.get(pk=call.instance.pk).status
    r = confirm(_console_for_capability["client"], _console_for_capability["url"])
    assert r.status_code == 302
    assert Instance.objects.get(pk=call.instance.pk).status == "waitingForPause"
    return before


def test_pausing_a_running_instance_from_the_console_stops_it_at_the_step_boundary(
        console, tenant, workflow_of, clock, drive, settings):
    settings.ENGINE_CAPABILITIES = {**settings.ENGINE_CAPABILITIES,
                                    "pauseFromConsole": "tests.console.test_admin.pause_from_console"}
    wf = workflow_of(tenant, """
    export default async function run(event, step) {
      const a = await step.do("a", async () => step.pauseFromConsole({}));
      const b = await step.do("b", async () => "after");
      return [a, b];
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf)
    _console_for_capability.update(client=console)
    drive()
    inst.refresh_from_db()
    assert inst.status == "paused" and not inst.suspended
    assert list(StepRecord.objects.filter(instance=inst).values_list("name", "status")) == [("a", "complete")]
    confirm(console, f"/admin/engine/instance/{inst.pk}/resume/")
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", ["waitingForPause", "after"])
    assert list(AuditEntry.objects.order_by("pk").values_list("action", flat=True)) == [
        "instance.pause", "instance.resume"]


def pause_from_console(call):
    r = bulk(_console_for_capability["client"], "bulk_pause", [call.instance.pk])
    assert r.status_code == 302
    return Instance.objects.get(pk=call.instance.pk).status


def test_api_keys_are_listed_and_revoked_with_an_audit_entry(console, tenant):
    key, token = api_key_create(tenant=tenant, name="ci")
    page = text(console.get(f"/admin/tenants/tenant/{tenant.pk}/change/"))
    assert key.prefix in page and "token_hash" not in page and key.token_hash not in page
    url = f"/admin/tenants/apikey/{key.pk}/revoke/"
    assert f"Revoke API key {key.prefix} (ci) of tenant acme?" in text(console.get(url))
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None
    assert confirm(console, url).status_code == 302
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    entry = AuditEntry.objects.get(action="key.revoke")
    assert (entry.actor, entry.ip, entry.target, entry.tenant_id) == ("ops", OPERATOR_IP, key.prefix, tenant.pk)
    assert Client().get("/api/v1/workflows", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401

    keys = [api_key_create(tenant=tenant, name=f"k{i}")[0] for i in range(3)]
    data = {"action": "revoke_selected", "_selected_action": [str(k.pk) for k in keys]}
    assert "Revoke 3 API key(s)?" in text(console.post("/admin/tenants/apikey/", {**data, "index": 0}))
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 3
    console.post("/admin/tenants/apikey/", {**data, "confirm": "yes"})
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 0
    assert AuditEntry.objects.filter(action="key.revoke").count() == 4


# -- workflows -----------------------------------------------------------------------------------

def test_workflows_and_versions_are_read_only_with_nodes_program_and_hash(console, tenant):
    from builder.services import version_create_from_graph, workflow_create

    graph = {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                       {"id": "double", "type": "code", "position": {"x": 0, "y": 100},
                        "data": {"code": "return 2;"}}],
             "edges": [{"id": "e1", "source": "start", "target": "double"}]}
    wf = workflow_create(tenant=tenant, slug="drawn", draft=graph)
    version = version_create_from_graph(workflow=wf, graph=graph)
    page = text(console.get(f"/admin/builder/workflowversion/{version.pk}/change/"))
    assert version.program_hash in page
    assert "export default async function run" in page
    assert re.search(r"<td[^>]*>double</td>\s*<td[^>]*>code</td>\s*<td[^>]*>start</td>", page)
    assert 'name="_save"' not in page
    page = text(console.get(f"/admin/builder/workflow/{wf.pk}/change/"))
    assert "drawn" in page and version.program_hash[:12] in page and 'name="_save"' not in page
    before = version.program
    console.post(f"/admin/builder/workflowversion/{version.pk}/change/", {"program": "evil"})
    version.refresh_from_db()
    assert version.program == before
    assert console.get("/admin/builder/workflow/add/").status_code == 403


# -- instances -----------------------------------------------------------------------------------

def test_the_instance_list_filters_and_searches(console, tenant, other_tenant, workflow_of, clock, drive):
    wf, other_wf = workflow_of(tenant), workflow_of(other_tenant, slug="other")
    gated = workflow_of(tenant, GATED, slug="gated")
    a = services.instance_create(tenant=tenant, workflow=wf, id="alpha")
    b = services.instance_create(tenant=other_tenant, workflow=other_wf, id="bravo")
    failed = services.instance_create(tenant=tenant, workflow=gated, id="charlie")
    drive()
    old = Instance.objects.create(tenant=tenant, workflow=wf, version=wf.published_version, key="ancient",
                                  status="complete", created_at=clock.now() - timedelta(days=40))

    def keys(query: str) -> set[str]:
        r = console.get("/admin/engine/instance/" + query)
        assert r.status_code == 200, query
        return set(re.findall(r'class="font-mono">([^<]+)</a>', r.content.decode()))

    assert keys("") == {"alpha", "bravo", "charlie", "ancient"}
    assert keys(f"?tenant__id__exact={other_tenant.pk}") == {"bravo"}
    assert keys(f"?workflow__id__exact={gated.pk}") == {"charlie"}
    assert keys("?status__exact=errored") == {"charlie"}
    assert keys("?age=gt30d") == {"ancient"}
    assert keys("?age=24h") == {"alpha", "bravo", "charlie"}  # by the engine's clock
    assert keys("?error=STEP.GATE+failed") == {"charlie"}
    assert keys(f"?q={b.pk}") == {"bravo"}
    assert keys("?q=alpha") == {"alpha"}
    assert keys("?q=alph") == set()  # exact only: no LIKE scan over millions of rows
    hexkey = services.instance_create(tenant=tenant, workflow=wf, id="0123456789abcdef0123456789abcdef")
    assert keys(f"?q={hexkey.key}") == {hexkey.key}  # 32 hex digits: a key too, not only a uuid
    assert keys(f"?tenant__id__exact={tenant.pk}&status__exact=waiting") == {"alpha"}
    # The tenant and workflow pickers search by slug.
    found = console.get("/admin/autocomplete/", {"app_label": "engine", "model_name": "instance",
                                                 "field_name": "tenant", "term": "glob"}).json()
    assert [r["text"] for r in found["results"]] == ["globex"]
    found = console.get("/admin/autocomplete/", {"app_label": "engine", "model_name": "instance",
                                                 "field_name": "workflow", "term": "gated"}).json()
    assert [r["id"] for r in found["results"]] == [str(gated.pk)]
    # Search by exact id finds each instance, whatever its status or age.
    assert (keys(f"?q={a.pk}"), keys(f"?q={failed.pk}"), keys(f"?q={old.pk}")) == ({"alpha"}, {"charlie"}, {"ancient"})


def test_instance_list_pages_cost_the_same_queries_for_5_or_50_rows(console, tenant, other_tenant, workflow_of):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    workflows = [workflow_of(tenant, slug=f"w{i}") for i in range(5)] + [workflow_of(other_tenant, slug="o")]

    def add(n: int, start: int):
        Instance.objects.bulk_create([
            Instance(tenant=wf.tenant, workflow=wf, version=wf.published_version, key=f"k{i}",
                     status=["waiting", "errored", "complete"][i % 3], error={"name": "E", "message": "boom"},
                     created_at=timezone.now())
            for i in range(start, start + n) for wf in [workflows[i % len(workflows)]]
        ])

    def queries(query="") -> int:
        with CaptureQueriesContext(connection) as ctx:
            r = console.get("/admin/engine/instance/" + query)
            assert r.status_code == 200
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries), "the list never counts"
        return len(ctx.captured_queries)

    add(5, 0)
    few = [queries(), queries("?status__exact=errored"), queries(f"?tenant__id__exact={tenant.pk}")]
    add(45, 5)
    assert [queries(), queries("?status__exact=errored"), queries(f"?tenant__id__exact={tenant.pk}")] == few
    assert max(few) <= 12


def test_instance_detail_shows_steps_attempts_logs_and_the_inbox(console, tenant, workflow_of, clock, drive):
    wf = workflow_of(tenant, """
    export default async function run(event, step) {
      const a = await step.do("flaky", { retries: { limit: 2, delay: "1 second", backoff: "constant" } },
        async (ctx) => { console.log("attempt", ctx.attempt); if (ctx.attempt === 1) throw new Error("first try fails"); return { n: 41 }; });
      const e = await step.waitForEvent("approval", { type: "approve" });
      return a.n + e.payload.plus;
    }""")
    inst = services.instance_create(tenant=tenant, workflow=wf, id="detail-me")
    drive()
    clock.advance(seconds=2)
    drive()
    services.event_send(tenant=tenant, instance_id=inst.pk, type="other", payload={"x": "inbox-only"})
    page = text(console.get(f"/admin/engine/instance/{inst.pk}/change/"))
    assert "flaky" in page and "2 attempts" in page and "first try fails" in page
    assert "[info] attempt 1" in page and "[info] attempt 2" in page
    assert "&quot;n&quot;: 41" in page
    assert "waiting in inbox" in page and "inbox-only" in page
    assert 'name="_save"' not in page  # read-only
    offered = {a for a in ("pause", "resume", "terminate", "restart-failed")
               if f"/admin/engine/instance/{inst.pk}/{a}/" in page}
    assert offered == {"pause", "terminate"}  # what applies to a waiting instance
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload={"plus": 1})
    drive()
    page = text(console.get(f"/admin/engine/instance/{inst.pk}/change/"))
    assert "complete" in page and ">approval<" in page  # the event was taken by the wait step
    assert Event.objects.filter(instance=inst, consumed_by__name="approval").count() == 1
    assert console.get(f"/admin/engine/instance/{uuid.uuid4()}/change/").status_code == 302  # unknown: back to list
    assert console.get("/admin/engine/instance/not-a-uuid/change/").status_code == 302


def test_single_instance_actions_ask_then_act_through_the_engine(console, tenant, workflow_of, clock, drive):
    wf = workflow_of(tenant)
    inst = services.instance_create(tenant=tenant, workflow=wf)
    drive()
    base = f"/admin/engine/instance/{inst.pk}"
    assert "Pause instance" in text(console.get(f"{base}/pause/"))
    assert Instance.objects.get(pk=inst.pk).status == "waiting"
    assert confirm(console, f"{base}/pause/").status_code == 302
    assert Instance.objects.get(pk=inst.pk).status == "paused"
    confirm(console, f"{base}/resume/")
    drive()
    clock.advance(hours=1)
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "complete"
    r = confirm(console, f"{base}/terminate/")  # a finished instance: refused, not an error page
    assert r.status_code == 302 and Instance.objects.get(pk=inst.pk).status == "complete"
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "actor", "ip", "target"))
    assert actions == [("instance.pause", "ops", OPERATOR_IP, str(inst.pk)),
                       ("instance.resume", "ops", OPERATOR_IP, str(inst.pk))]

    other = services.instance_create(tenant=tenant, workflow=wf)
    confirm(console, f"/admin/engine/instance/{other.pk}/terminate/")
    assert Instance.objects.get(pk=other.pk).status == "terminated"
    assert AuditEntry.objects.filter(action="instance.terminate", target=str(other.pk)).count() == 1


def test_restart_from_the_failed_step_keeps_earlier_checkpoints(console, tenant, workflow_of, clock, drive):
    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant, GATED), params={"n": 1})
    drive()
    inst.refresh_from_db()
    assert inst.status == "errored"
    prepare = StepRecord.objects.get(instance=inst, name="prepare")
    capabilities.GATE["open"] = True
    page = text(console.get(f"/admin/engine/instance/{inst.pk}/restart-failed/"))
    assert "1 errored instance(s) run again from their first failed step" in page
    confirm(console, f"/admin/engine/instance/{inst.pk}/restart-failed/")
    drive()
    clock.advance(hours=1)
    drive()
    inst.refresh_from_db()
    assert (inst.status, json.loads(inst.output)) == ("complete", 2)
    assert StepRecord.objects.get(instance=inst, name="prepare").pk == prepare.pk  # kept, not re-run
    assert AuditEntry.objects.filter(action="instance.restart_failed", target=str(inst.pk)).count() == 1


def test_bulk_actions_on_300_instances(console, tenant, other_tenant, workflow_of, clock, drive):
    wf = workflow_of(tenant)
    batch = [services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 100) for _ in range(3)]
    ids = [i.pk for chunk in batch for i in chunk]
    drive()
    assert statuses(ids) == {"waiting"}

    page = text(bulk(console, "bulk_pause", ids, confirmed=False))
    assert "Pause 300 instance(s)?" in page and "300 queued or waiting pause now" in page
    assert statuses(ids) == {"waiting"}  # asked, not done
    assert bulk(console, "bulk_pause", ids).status_code == 302
    assert statuses(ids) == {"paused"}
    assert AuditEntry.objects.filter(action="instance.pause", actor="ops", ip=OPERATOR_IP).count() == 300

    bulk(console, "bulk_resume", ids)
    drive()
    clock.advance(hours=1)
    drive()
    assert statuses(ids) == {"complete"}
    assert AuditEntry.objects.filter(action="instance.resume").count() == 300

    more = [i.pk for _ in range(3) for i in services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 100)]
    drive()
    r = bulk(console, "bulk_terminate", more + ids[:5])  # 5 complete ones are skipped
    messages = [m.message for m in r.wsgi_request._messages]
    assert "Terminate: 300 instance(s)." in messages and any("5 (the instance is complete)" in m for m in messages)
    assert statuses(more) == {"terminated"}

    gated = workflow_of(tenant, GATED, slug="gated")
    failed = [i.pk for _ in range(3) for i in services.instance_create_batch(tenant=tenant, workflow=gated,
                                                                              items=[{}] * 100)]
    drive()
    assert statuses(failed) == {"errored"}
    capabilities.GATE["open"] = True
    bulk(console, "bulk_restart_failed", failed)
    drive()
    clock.advance(hours=1)
    drive()
    assert statuses(failed) == {"complete"}
    assert set(StepRecord.objects.filter(instance__in=failed, name="prepare").values_list("attempts", flat=True)) == {1}
    assert AuditEntry.objects.filter(action="instance.restart_failed").count() == 300


def test_select_all_on_the_filtered_list_is_bounded(console, tenant, workflow_of, clock, drive, monkeypatch):
    from console import admin_engine as engine_admin

    monkeypatch.setattr(engine_admin, "BULK_LIMIT", 20)
    wf = workflow_of(tenant)
    created = services.instance_create_batch(tenant=tenant, workflow=wf, items=[{}] * 30)
    drive()
    # "Select all": the page's checked rows and select_across, as the admin's script posts them.
    r = console.post(f"/admin/engine/instance/?tenant__id__exact={tenant.pk}",
                     {"action": "bulk_pause", "_selected_action": [created[0].pk], "select_across": "1", "index": 0})
    page = text(r)
    assert "Pause 20 instance(s)?" in page and "At most 20 instances per action" in page


def test_resume_skips_instances_of_a_suspended_tenant(console, tenant, workflow_of, clock, drive):
    from tenants.services import tenant_suspend

    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant))
    drive()
    tenant_suspend(tenant=tenant)
    r = bulk(console, "bulk_resume", [inst.pk])
    assert any("tenant suspended" in m.message for m in r.wsgi_request._messages)
    assert Instance.objects.get(pk=inst.pk).status == "paused"


# -- audit log -----------------------------------------------------------------------------------

def test_the_audit_log_is_read_only_and_filterable(console, tenant):
    from tenants.audit import audit_record

    e = audit_record(action="key.revoke", actor="ana", tenant=tenant, target="dw_1", ip="198.51.100.1")
    audit_record(action="secret.put", actor="bob", tenant=tenant, target="TOKEN")
    page = text(console.get("/admin/tenants/auditentry/?action=key.revoke"))
    assert "dw_1" in page and "TOKEN" not in page
    assert "TOKEN" in text(console.get("/admin/tenants/auditentry/?q=bob"))
    assert "dw_1" not in text(console.get(f"/admin/tenants/auditentry/?tenant__id__exact={tenant.pk + 1}"))
    assert "dw_1" in text(console.get(f"/admin/tenants/auditentry/?tenant__id__exact={tenant.pk}"))
    today = timezone.now().date()
    assert "dw_1" in text(console.get(f"/admin/tenants/auditentry/?created_at_from={today}&created_at_to={today}"))
    assert "dw_1" not in text(console.get("/admin/tenants/auditentry/?created_at_to=2020-01-01"))
    detail = text(console.get(f"/admin/tenants/auditentry/{e.pk}/change/"))
    assert "198.51.100.1" in detail and 'name="_save"' not in detail
    console.post(f"/admin/tenants/auditentry/{e.pk}/change/", {"actor": "mallory"})
    assert console.post(f"/admin/tenants/auditentry/{e.pk}/delete/", {"post": "yes"}).status_code == 403
    assert console.get("/admin/tenants/auditentry/add/").status_code == 403
    assert AuditEntry.objects.get(pk=e.pk).actor == "ana" and AuditEntry.objects.count() == 2


def test_staff_user_changes_are_audited_without_passwords(console):
    person = User.objects.create_user("carol", password="a-long-password")
    url = f"/admin/auth/user/{person.pk}/change/"
    r = console.get(url)
    assert r.status_code == 200
    form = hidden_inputs(r)
    r = console.post(url, {**form, "username": "carol", "is_active": "on", "is_staff": "on",
                           "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    assert r.status_code == 302, r.content.decode()[:3000]
    assert User.objects.get(pk=person.pk).is_staff
    entry = AuditEntry.objects.get(action="user.change")
    assert (entry.actor, entry.ip, entry.target) == ("ops", OPERATOR_IP, "carol")
    assert "is_staff" in entry.details["fields"] and not any("password" in f for f in entry.details["fields"])


def test_every_other_list_page_costs_the_same_queries_for_5_or_50_rows(console, tenant, workflow_of):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants.audit import audit_record

    pages = ["/admin/builder/workflow/", "/admin/builder/workflowversion/", "/admin/tenants/apikey/",
             "/admin/tenants/auditentry/", "/admin/auth/user/"]

    def add(start: int, n: int):
        for i in range(start, start + n):
            workflow_of(tenant, slug=f"w{i}")
            api_key_create(tenant=tenant, name=f"k{i}")
            audit_record(action="key.create", actor=f"a{i}", tenant=tenant, target=f"t{i}")
            User.objects.create_user(f"u{i}")

    def queries() -> list[int]:
        counts = []
        for page in pages:
            with CaptureQueriesContext(connection) as ctx:
                assert console.get(page).status_code == 200, page
            counts.append(len(ctx.captured_queries))
        return counts

    add(0, 5)
    few = queries()
    add(5, 45)
    assert queries() == few and max(few) <= 12


@pytest.mark.parametrize("url", [
    "/admin/tenants/tenant/abc/change/", "/admin/tenants/tenant/abc/suspend/", "/admin/tenants/tenant/abc/unsuspend/",
    "/admin/tenants/apikey/abc/revoke/", "/admin/tenants/tenant/99999/suspend/", "/admin/tenants/apikey/99999/revoke/",
    "/admin/engine/instance/abc/change/", "/admin/engine/instance/abc/pause/",
])
def test_malformed_or_unknown_ids_in_console_urls_are_not_found_not_errors(console, url):
    for response in (console.get(url), console.post(url, {"confirm": "yes"})):
        assert response.status_code in (302, 403, 404), (url, response.status_code)


@pytest.mark.parametrize("url", [
    "/admin/engine/instance/?status__exact=a%00", "/admin/engine/instance/?error=a%00b",
    "/admin/tenants/tenant/?status__exact=a%00", "/admin/tenants/apikey/?role__exact=a%00",
    "/admin/tenants/auditentry/?action=a%00b",
])
def test_a_nul_character_in_a_list_filter_is_a_bad_lookup_not_a_server_error(console, url):
    # PostgreSQL refuses NUL in text parameters: the console answers as Django does for a bad lookup.
    response = console.get(url)
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
    assert console.get(response["Location"]).status_code == 200


def test_the_audit_log_date_range_accepts_the_last_day_of_the_calendar(console, tenant):
    response = console.get("/admin/tenants/auditentry/?created_at_from=2020-01-01&created_at_to=9999-12-31")
    assert response.status_code == 200


def test_deleting_users_from_the_list_is_audited_like_deleting_one(console):
    for name in ("dave", "erin"):
        User.objects.create_user(name, password="a-long-password")
    ids = list(User.objects.filter(username__in=("dave", "erin")).values_list("pk", flat=True))
    r = console.post("/admin/auth/user/", {"action": "delete_selected", "_selected_action": ids, "post": "yes"})
    assert r.status_code == 302 and not User.objects.filter(pk__in=ids).exists()
    entries = AuditEntry.objects.filter(action="user.delete")
    assert sorted(e.target for e in entries) == ["dave", "erin"] and {e.ip for e in entries} == {OPERATOR_IP}


def test_restart_failed_skips_instances_of_a_suspended_tenant(console, tenant, workflow_of, clock, drive):
    """A suspended tenant runs nothing: restarting its failed instances would queue them for the engine."""
    from tenants.services import tenant_suspend

    inst = services.instance_create(tenant=tenant, workflow=workflow_of(tenant, GATED))
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "errored"
    tenant_suspend(tenant=tenant)
    r = bulk(console, "bulk_restart_failed", [inst.pk])
    assert any("tenant suspended" in m.message for m in r.wsgi_request._messages)
    confirm(console, f"/admin/engine/instance/{inst.pk}/restart-failed/")
    assert Instance.objects.get(pk=inst.pk).status == "errored"
    assert not AuditEntry.objects.filter(action="instance.restart_failed").exists()


def test_workflow_and_version_lists_do_not_read_programs_graphs_or_drafts(console, tenant, workflow_of):
    """A version's program and graph, and a workflow's draft, can each be up to a megabyte: a list
    page of 100 rows must not load them (the detail pages show them)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    wf = workflow_of(tenant)
    large = re.compile(r'\."(program|graph|draft)"')
    for page in ("/admin/builder/workflow/", "/admin/builder/workflowversion/"):
        with CaptureQueriesContext(connection) as ctx:
            assert console.get(page).status_code == 200
        assert not [q["sql"] for q in ctx.captured_queries if large.search(q["sql"])], page
    for page in (f"/admin/builder/workflow/{wf.pk}/change/",
                 f"/admin/builder/workflowversion/{wf.published_version_id}/change/"):
        assert console.get(page).status_code == 200  # the detail pages still read them
