"""The health dashboard in a real Chromium (Debian's, driven by Playwright; no browser download), fed
by a real engine worker process. Screenshot: var/screenshots/dashboard.png."""
import os
from datetime import timedelta

import pytest
from django.utils import timezone

from engine import services
from engine.models import ActivityMinute, Instance, WorkerHeartbeat
from tenants.models import Usage
from tests.accounts import person, totp_enroll
from tests.browser import SHOTS, chromium_page, settled, sign_in
from tests.processes import start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]

ORDERS = """
export default async function run(event, step) {
  const order = await step.do("fetch", async () => ({ id: event.payload.n }));
  await step.do("charge", async () => order.id * 2);
  if (event.payload.n % 4 === 0) await step.sleep("cool_off", "2 hours");
  return order;
}"""
BROKEN = """
export default async function run(event, step) {
  await step.do("call", { retries: { limit: 0 } }, async () => { throw new Error("upstream answered 503"); });
}"""


@pytest.fixture
def page(live_server):
    with chromium_page(1440, 900) as page:
        yield page


def test_the_dashboard_in_chromium(page, live_server, tenant, other_tenant, make_workflow):
    ops = person("ops", staff=True)
    ops_secret = totp_enroll(ops)
    orders = make_workflow(ORDERS, slug="orders")
    broken = make_workflow(BROKEN, slug="broken", owner=other_tenant)
    for n in range(24):
        services.instance_create(tenant=tenant, workflow=orders, params={"n": n})
    for _ in range(3):
        services.instance_create(tenant=other_tenant, workflow=broken)
    worker = start_engine_worker("dashboard-browser-worker", ENGINE_HEARTBEAT_SECONDS="0.5")
    try:
        wait_for(lambda: not Instance.objects.filter(status__in=["queued", "running"]).exists(),
                 what="the worker to run every instance")
        wait_for(lambda: WorkerHeartbeat.objects.filter(pid=worker.pid, steps__gte=24 * 2 + 3).exists(),
                 what="the worker's heartbeat with its steps")
        # A synthetic hour of history before this minute, so the charts have a shape to show.
        now = timezone.now().replace(second=0, microsecond=0)
        ActivityMinute.objects.bulk_create([
            ActivityMinute(minute=now - timedelta(minutes=m), advances=40 + (m * 7) % 25, steps=120 + (m * 37) % 90,
                           recoveries=1 if m in (17, 42) else 0) for m in range(1, 60)])
        Usage.objects.filter(tenant=tenant).update(cpu_ms=4_200)

        sign_in(page, live_server.url, "ops", "a-long-password", next="/admin/", totp_secret=ops_secret)
        page.locator("#health-dashboard").wait_for()
        assert page.locator('[data-figure="timers"]').inner_text() == "6"  # every 4th order sleeps 2 hours
        workers = page.locator("#workers").inner_text()
        assert f"/ {worker.pid}" in workers and "live" in workers.lower()
        assert "acme" in page.locator("#top-tenants").inner_text()
        statuses = page.locator("#instances-by-status").inner_text()
        assert "Errored\t3" in statuses and "Complete\t18" in statuses
        # Chart.js (bundled with unfold) drew the three charts.
        wait_for(lambda: page.evaluate("[...document.querySelectorAll('canvas.chart')]"
                                       ".filter(c => window.Chart && Chart.getChart(c)).length") == 3,
                 timeout=15, what="the charts to be drawn")
        SHOTS.mkdir(parents=True, exist_ok=True)
        # The charts' final frames, drawn now rather than at the end of their animation; the whole
        # page in one shot, without resizing the viewport (a resize would animate them again).
        page.evaluate("[...document.querySelectorAll('canvas.chart')].forEach(c => {"
                      " const chart = Chart.getChart(c); chart.stop(); chart.options.animation = false; chart.update('none'); })")
        settled(page)
        page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    finally:
        stop(worker)
