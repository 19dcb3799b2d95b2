"""Saga rollbacks in a real Chromium: the code node's "On failure, undo with" field is filled in
the editor, Run starts the draft, the instance fails, and the live view shows the rollback chain
(nodes rolled back, a rollback that failed) as the engine worker runs it; then terminate with
rollback from the live view. daphne serves the app, an engine worker process runs the instances."""
import os
from pathlib import Path

import pytest

from builder.services import version_create_from_graph, workflow_create
from engine.models import Instance, StepRecord
from tests.browser import CHROMIUM, SHOTS, chromium_page, settled, sign_in
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


def node(id, type, data=None, x=0, y=0):
    return {"id": id, "type": type, "position": {"x": x, "y": y}, "data": data or {}}


def edge(source, target):
    return {"id": f"{source}-{target}", "source": source, "target": target}


NO_RETRY = {"limit": 0, "delay": "1 second", "backoff": "constant"}
GRAPH = {
    "nodes": [
        node("start", "manual", x=0, y=100),
        node("reserve", "code", {"code": "return { sku: 'A-1' };", "retries": NO_RETRY,
                                 "rollback": "console.log('released', output.sku, 'because', error.message);"}, x=240, y=100),
        node("charge", "code", {"code": "return { charge: 'ch_1' };", "retries": NO_RETRY}, x=480, y=100),
        node("ship", "code", {"code": "if (event.payload.fail) throw new NonRetryableError('no courier');\nreturn 'shipped';",
                              "retries": NO_RETRY}, x=720, y=100),
        node("wait", "sleep", {"duration": "1 hour"}, x=960, y=100),
    ],
    "edges": [edge("start", "reserve"), edge("reserve", "charge"), edge("charge", "ship"), edge("ship", "wait")],
}


@pytest.fixture
def stack(tenant):
    from frontend.views import DIST

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    wait_for(lambda: (DIST / ".vite" / "manifest.json").exists(), timeout=120, what="the built editor (config/test.sh builds it)")
    server, port = start_daphne("rollback-e2e-daphne")
    worker = start_engine_worker("rollback-e2e-worker")
    yield f"http://127.0.0.1:{port}"
    stop(server)
    stop(worker)


def rollback_of(page, node_id: str, state: str):
    page.locator(f'.react-flow__node[data-id="{node_id}"] .live-node[data-rollback="{state}"]').wait_for()


def test_the_undo_field_and_the_live_rollback_chain(stack, tenant, settings):
    from tenants.models import Membership
    from tests.accounts import person

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # daphne's hashers
    Membership.objects.create(user=person("ed"), tenant=tenant, role="owner")
    wf = workflow_create(tenant=tenant, slug="saga", draft=GRAPH)
    version_create_from_graph(workflow=wf, graph=GRAPH, publish=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(1600, 900, timeout_ms=30000) as page:
        sign_in(page, stack, "ed", "a-long-password", next=f"/editor/w/{wf.pk}")
        page.locator('.react-flow__node[data-id="charge"]').click()
        panel = page.get_by_role("complementary", name="Configure charge")
        undo = panel.get_by_label("On failure, undo with", exact=True)
        undo.click()
        page.keyboard.type("throw new Error('refund API down');")
        assert "refund API down" in undo.inner_text()
        assert "Runs if the workflow fails after this step succeeded" in panel.inner_text()
        settled(page)
        page.screenshot(path=str(SHOTS / "rollback-field.png"))

        # Run the draft with a payload that makes ship fail: the live view opens.
        page.get_by_role("button", name="Payload").click()
        page.get_by_label("Test payload").fill('{"fail": true}')
        page.get_by_role("button", name="Run", exact=True).click()
        page.wait_for_url("**/editor/w/*/i/*")
        instance_id = page.url.rstrip("/").split("/")[-1]
        page.get_by_label("Instance status").get_by_text("errored").wait_for()
        rollback_of(page, "charge", "failed")
        rollback_of(page, "reserve", "done")
        assert page.locator('.react-flow__node[data-id="ship"] .live-node').get_attribute("data-rollback") is None
        chain = page.get_by_role("region", name="Rollbacks")
        assert [li.get_attribute("data-rollback") for li in chain.locator("li").all()] == ["failed", "done"]
        assert chain.locator("li").first.inner_text().startswith("charge")  # latest-started step first
        assert "refund API down" in chain.inner_text()
        assert "rolled back" in page.locator('.react-flow__node[data-id="reserve"]').inner_text()
        page.get_by_role("region", name="Logs").get_by_text("released A-1 because no courier").wait_for()
        page.locator('.react-flow__node[data-id="charge"]').click()  # its details: the rollback and its error
        inspector = page.get_by_role("region", name="Step charge")
        inspector.locator('[data-rollback="failed"]').wait_for()
        assert "refund API down" in inspector.inner_text()
        page.mouse.click(5, 300)  # deselect
        settled(page)
        page.screenshot(path=str(SHOTS / "rollback-live.png"))
        inst = Instance.objects.get(pk=instance_id)
        assert inst.rollback["reason"] == "errored"
        assert StepRecord.objects.get(instance=inst, name="charge", rollback=True).status == "errored"

        # A second instance that does not fail waits in its sleep: terminate it with rollback.
        page.goto(f"{stack}/editor/w/{wf.pk}")
        page.locator('.react-flow__node[data-id="ship"]').wait_for()
        page.get_by_role("button", name="Payload").click()
        page.get_by_label("Test payload").fill('{"fail": false}')
        page.get_by_role("button", name="Run", exact=True).click()
        page.wait_for_url(lambda url: "/i/" in url and instance_id not in url)
        page.locator('.react-flow__node[data-id="wait"] .live-node[data-state="sleeping"]').wait_for()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Stop with rollback").click()
        page.get_by_label("Instance status").get_by_text("terminated").wait_for()
        rollback_of(page, "reserve", "done")
        rollback_of(page, "charge", "failed")
        assert "terminated with rollback" in page.get_by_role("region", name="Rollbacks").inner_text().lower()
        settled(page)
        page.screenshot(path=str(SHOTS / "rollback-terminated.png"))
