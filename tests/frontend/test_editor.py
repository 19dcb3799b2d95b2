"""The editor end to end in a real Chromium (Debian's, driven by Playwright; no browser download)."""
import json
import os
from pathlib import Path

import pytest

from engine.models import Instance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def page(live_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    from frontend.views import DIST

    assert (DIST / ".vite" / "manifest.json").exists(), "build the editor first (config/test.sh does)"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API beside Django's live server
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-quic"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(15000)
        yield page
        browser.close()


@pytest.fixture
def signed_in(page, live_server, tenant):
    from django.contrib.auth.models import User

    from tenants.models import Membership

    user = User.objects.create_user("ed", password="a-long-password")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    page.goto(f"{live_server.url}/accounts/login/?next=/editor/")
    page.get_by_label("Username").fill("ed")
    page.get_by_label("Password").fill("a-long-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/editor/")
    return page


def connect(page, source: str, target: str) -> None:
    start = page.locator(f'.react-flow__node[data-id="{source}"] .react-flow__handle.source').first.bounding_box()
    end = page.locator(f'.react-flow__node[data-id="{target}"] .react-flow__handle.target').first.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def test_draw_validate_publish_and_run_a_workflow(signed_in, tenant, drive):
    page = signed_in
    page.get_by_text("No workflows yet").wait_for()
    page.get_by_label("New workflow slug").fill("doubler")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/editor/w/*")
    page.locator('.react-flow__node[data-id="start"]').wait_for()

    page.get_by_role("button", name="Code", exact=True).click()  # adds code_1 and opens its panel
    page.locator("#field-code").fill("return input.n * 2;")
    connect(page, "start", "code_1")
    assert page.locator(".react-flow__edge").count() == 1

    # Undo and redo a node, copy and paste one.
    page.get_by_role("button", name="Sleep", exact=True).click()
    page.locator('.react-flow__node[data-id="sleep_1"]').wait_for()
    page.get_by_role("button", name="Undo").click()
    page.locator('.react-flow__node[data-id="sleep_1"]').wait_for(state="detached")
    page.get_by_role("button", name="Redo").click()
    page.locator('.react-flow__node[data-id="sleep_1"]').wait_for()
    page.locator('.react-flow__node[data-id="sleep_1"]').click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    page.locator('.react-flow__node[data-id="sleep_2"]').wait_for()
    page.get_by_role("button", name="Undo").click()  # takes the paste back
    page.locator('.react-flow__node[data-id="sleep_2"]').wait_for(state="detached")
    page.get_by_role("button", name="Undo").click()  # and the sleep node
    page.locator('.react-flow__node[data-id="sleep_1"]').wait_for(state="detached")

    page.get_by_role("button", name="Merge", exact=True).click()  # a merge with no inputs: invalid
    page.get_by_role("button", name="Validate").click()
    problems = page.get_by_role("region", name="Problems")
    problems.get_by_text("merge_1").first.wait_for()
    assert page.locator('.react-flow__node[data-id="merge_1"] .node.invalid').count() == 1
    page.get_by_role("button", name="Undo").click()  # the merge goes again
    page.locator('.react-flow__node[data-id="merge_1"]').wait_for(state="detached")

    page.get_by_role("button", name="Publish").click()
    page.get_by_role("status").get_by_text("Published version 1").wait_for()
    page.get_by_label("Test payload").fill('{"n": 21}')
    page.get_by_role("button", name="Run").click()
    page.wait_for_url("**/editor/w/*/i/*")  # Run opens the instance's live view (tests/frontend/test_live.py)
    page.go_back()
    page.locator('.react-flow__node[data-id="code_1"]').wait_for()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("button", name="Auto-layout").click()
    page.screenshot(path=str(SHOTS / "editor.png"))
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("complementary", name="Versions")
    versions.get_by_text("live").wait_for()
    versions.get_by_role("button", name="Program").click()
    assert "export default async function run(event, step)" in versions.locator(".program").inner_text()
    page.screenshot(path=str(SHOTS / "editor-versions.png"))

    drive()
    instance = Instance.objects.get(tenant=tenant)
    assert instance.status == "complete" and json.loads(instance.output) == 42
    assert instance.workflow.draft["nodes"][1]["data"] == {"code": "return input.n * 2;"}
