"""The console in a real Chromium (Debian's, driven by Playwright; no browser download): sign in as
staff, open the tenant list and page, suspend through the confirmation page, open an instance's
detail. Screenshots go to var/screenshots/ (console-*.png)."""
import json
import os

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from engine import services
from engine.models import Instance
from tenants.access import api_key_create
from tenants.models import Membership, Tenant, Usage

from tests.accounts import person, totp_enroll
from tests.browser import SHOTS, chromium_page, sign_in

from . import capabilities

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]

SHOWCASE = """
export default async function run(event, step) {
  const order = await step.do("fetch_order", async () => { console.log("fetching order", event.payload.id); return { id: event.payload.id, total: 120 }; });
  const checked = await step.do("check_stock", { retries: { limit: 2, delay: "1 second", backoff: "constant" } },
    async (ctx) => { console.log("stock check, attempt", ctx.attempt); if (ctx.attempt === 1) throw new Error("warehouse timed out"); return { inStock: true }; });
  const approval = await step.waitForEvent("approval", { type: "approve", timeout: "2 days" });
  return { order, checked, approvedBy: approval.payload.by };
}"""


@pytest.fixture
def page(live_server):
    with chromium_page(1440, 900) as page:
        yield page


def shot(page, name: str) -> None:
    """The whole page, taken in a window as tall as the page so the sticky bars stay at the bottom."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1440, "height": max(900, min(height, 6000))})
    page.screenshot(path=str(SHOTS / name))
    page.set_viewport_size({"width": 1440, "height": 900})


def test_console_pages_in_chromium(page, live_server, tenant, other_tenant, workflow_of, clock, drive):
    ops = person("ops", staff=True)
    ops_secret = totp_enroll(ops)
    owner = User.objects.create_user("ana", password="a-long-password")
    Membership.objects.create(user=owner, tenant=tenant, role="owner")
    Membership.objects.create(user=User.objects.create_user("ben", password="x" * 10), tenant=tenant, role="viewer")
    api_key_create(tenant=tenant, name="ci")
    Usage.objects.create(tenant=tenant, day=timezone.now().date(), steps=812_345, cpu_ms=93_120, http_calls=4_210,
                         bytes_stored=7_340_032_000)
    Usage.objects.create(tenant=other_tenant, day=timezone.now().date(), steps=1_204, cpu_ms=880, http_calls=12,
                         bytes_stored=52_000)
    tenant.limits = {"steps_per_month": 1_000_000, "concurrent_instances": 20}
    tenant.save()
    wf = workflow_of(tenant, SHOWCASE, slug="order-fulfillment")
    inst = services.instance_create(tenant=tenant, workflow=wf, id="order-1042", params={"id": 1042})
    for n in range(4):
        services.instance_create(tenant=tenant, workflow=wf, params={"id": 2000 + n})
    services.instance_create(tenant=other_tenant, workflow=workflow_of(other_tenant), id="nightly")
    drive()
    clock.advance(seconds=2)
    drive()
    services.event_send(tenant=tenant, instance_id=inst.pk, type="approve", payload={"by": "ana"})
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "complete"
    capabilities.GATE["open"] = False

    sign_in(page, live_server.url, "ops", "a-long-password", next="/admin/tenants/tenant/", totp_secret=ops_secret)
    page.get_by_text("812,345").wait_for()
    shot(page, "console-tenants.png")

    page.goto(f"{live_server.url}/admin/tenants/tenant/{tenant.pk}/change/")
    page.get_by_text("Usage this month").first.wait_for()
    assert page.locator("[data-console-usage]").inner_text().count("%") == 2
    shot(page, "console-tenant.png")

    # Suspend through the confirmation page, as an operator would.
    page.get_by_role("link", name="Suspend").first.click()
    page.locator("[data-console-impact]").wait_for()
    assert "pause now" in page.locator("[data-console-impact]").inner_text()
    shot(page, "console-suspend-confirm.png")
    page.get_by_role("button", name="Suspend").click()
    page.wait_for_url(f"**/admin/tenants/tenant/{tenant.pk}/change/")
    assert Tenant.objects.get(pk=tenant.pk).status == "suspended"
    assert set(Instance.objects.filter(tenant=tenant).exclude(status="complete").values_list("status", flat=True)) \
        == {"paused"}

    # A bulk action from the list: select the page, pick the action, confirm on the impact page.
    page.goto(f"{live_server.url}/admin/engine/instance/?tenant__id__exact={other_tenant.pk}")
    page.get_by_text("nightly").wait_for()
    page.locator("#action-toggle").check()
    page.get_by_text("Select all 500 newest matching instances").wait_for()
    page.select_option("select[name=action]", "bulk_pause")
    page.locator("button[name=index]").first.click()
    page.locator("[data-console-impact]").wait_for()
    assert "Pause 1 instance(s)?" in page.content()
    page.get_by_role("button", name="Pause").click()
    page.get_by_text("Pause: 1 instance(s).").wait_for()
    assert Instance.objects.get(key="nightly").status == "paused"

    page.goto(f"{live_server.url}/admin/engine/instance/")
    page.get_by_text("order-1042").wait_for()
    shot(page, "console-instances.png")

    page.goto(f"{live_server.url}/admin/engine/instance/{inst.pk}/change/")
    page.locator('[data-step="check_stock"]').wait_for()
    assert "warehouse timed out" in page.locator('[data-step="check_stock"]').inner_text()
    assert json.loads(Instance.objects.get(pk=inst.pk).output)["approvedBy"] == "ana"
    shot(page, "console-instance.png")
