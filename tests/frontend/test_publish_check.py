"""The editor's Publish with the safe-deploy check, and the workflow settings (concurrency limit),
in a real Chromium. Screenshots: var/screenshots/editor-publish-check.png, editor-settings.png."""
import os

import pytest
from playwright.sync_api import expect

from builder.models import Workflow
from builder.services import workflow_update_draft
from engine.models import Instance
from tests.browser import SHOTS, new_page, sign_in
from tests.builder.helpers import graph, publish, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


def orders(charge="charge"):
    return graph([("start", "manual", {}), ("fetch", "code", {"code": "return 1;"}), (charge, "code", {"code": "return 2;"}),
                  ("cool_off", "sleep", {"duration": "1 day"}), ("ship", "code", {"code": "return 3;"})],
                 [("start", "fetch"), ("fetch", charge), (charge, "cool_off"), ("cool_off", "ship")])


@pytest.fixture
def page(live_server, tenant, module_chromium):
    from tenants.models import Membership
    from tests.accounts import person

    Membership.objects.create(user=person("ed"), tenant=tenant, role="owner")
    page = new_page(module_chromium, 1280, 800)  # the module's Chromium (tests/frontend/conftest.py)
    sign_in(page, live_server.url, "ed", "a-long-password")
    yield page
    page.close()


def test_publish_shows_the_check_of_the_instances_in_flight(page, live_server, tenant, drive):
    wf = publish(tenant, orders(), slug="orders")
    for n in range(12):
        start(tenant, wf, id=f"order-{n}")
    drive()
    assert Instance.objects.filter(workflow=wf, status="waiting").count() == 12
    # The draft renames `charge` to `bill`: every sleeping instance has charged already.
    workflow_update_draft(workflow=wf, draft=orders(charge="bill"))

    page.goto(f"{live_server.url}/editor/w/{wf.pk}")
    page.locator('.react-flow__node[data-id="bill"]').wait_for()
    page.get_by_role("button", name="Publish", exact=True).click()
    dialog = page.get_by_role("dialog", name="Publish version 2?")
    dialog.wait_for()
    assert dialog.get_by_label("Check summary").inner_text() == (
        "12 in-flight instances stay on v1; on v2 their checkpoints would hold for 0, diverge at charge for 12.")
    assert dialog.get_by_label("Check summary").locator("code").inner_text() == "charge"
    table = dialog.get_by_role("table", name="Instances that would not keep their checkpoints")
    assert table.locator("tbody tr").count() == 12
    assert table.locator("tbody tr").first.inner_text().split("\t") == ["order-0", "waiting", "v1", "diverges at charge", "charge", "bill"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "editor-publish-check.png"))
    assert Workflow.objects.get(pk=wf.pk).published_version.number == 1  # nothing published while the user reads

    # Cancel keeps v1 live; Publish again, then confirm.
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("status").get_by_text("Not published").wait_for()
    assert Workflow.objects.get(pk=wf.pk).published_version.number == 1
    page.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("dialog", name="Publish version 2?").get_by_role("button", name="Publish v2").click()
    page.get_by_role("status").get_by_text("Published version 2").wait_for()
    assert Workflow.objects.get(pk=wf.pk).published_version.number == 2
    assert set(Instance.objects.filter(workflow=wf).values_list("version__number", flat=True)) == {1}  # they stay on v1


def test_the_settings_dialog_sets_the_concurrency_limit(page, live_server, tenant):
    wf = publish(tenant, orders(), slug="orders")
    workflow_update_draft(workflow=wf, draft=orders())
    page.goto(f"{live_server.url}/editor/w/{wf.pk}")
    page.locator('.react-flow__node[data-id="charge"]').wait_for()
    # The current setting loads late (held here): until it has, the field cannot be typed into, so
    # the late answer never overwrites what the user typed (on a loaded machine it did).
    held = []
    page.route(f"**/api/v1/workflows/{wf.pk}", lambda route: held.append(route) if route.request.method == "GET" else route.continue_())
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Workflow settings")
    limit = dialog.get_by_label("Concurrency limit")
    expect(limit).to_be_disabled()
    expect(dialog.get_by_role("button", name="Save settings")).to_be_disabled()
    while not held:  # the dialog's request reaches the handler while Playwright is waited on
        page.wait_for_function("true")
    held[0].continue_()
    page.unroute(f"**/api/v1/workflows/{wf.pk}")
    limit.fill("3")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "editor-settings.png"))
    dialog.get_by_role("button", name="Save settings").click()
    page.get_by_role("status").get_by_text("At most 3 instance(s) of this workflow run at once").wait_for()
    assert Workflow.objects.get(pk=wf.pk).concurrency_limit == 3
    page.get_by_role("button", name="Settings").click()
    expect(page.get_by_role("dialog", name="Workflow settings").get_by_label("Concurrency limit")).to_have_value("3")
    page.get_by_role("dialog", name="Workflow settings").get_by_label("Concurrency limit").fill("")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_role("status").get_by_text("No concurrency limit of its own").wait_for()
    assert Workflow.objects.get(pk=wf.pk).concurrency_limit is None
