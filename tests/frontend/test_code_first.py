"""Code-first programs in a real Chromium: written, completed and checked against the step API's
types, drawn as a diagram, saved, published, run, watched live on the diagram; and errors whose
frames open the right line of the program, or the right node and line of a drawn workflow.

daphne serves the app and an engine worker process runs the instances (as in tests/frontend/test_live.py)."""
import json
import os
from pathlib import Path

import pytest

from builder.services import version_create_from_graph, workflow_create
from engine import services
from engine.models import Instance
from tests.browser import CHROMIUM, SHOTS, chromium_page, hover_diagnostic, settled, sign_in
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]

PROGRAM = """export default async function run(event, step) {
  const order = await step.do("fetch_order", async () => ({ total: event.payload.total }));
  if (order.total > 100) {
    await step.waitForEvent("approval", { type: "approve", timeout: "1 hour" });
  } else {
    await step.do("small_order", async () => "small");
  }
  await step.do("charge", { retries: { limit: 0 } }, async () => {
    const card = event.payload.card;
    if (!card) throw new Error("no card on file");
    return "charged";
  });
  return "done";
}
"""


@pytest.fixture
def stack(tenant, settings):
    from frontend.views import DIST
    from tenants.models import Membership
    from tests.accounts import person

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    wait_for(lambda: (DIST / ".vite" / "manifest.json").exists(), timeout=120, what="the built editor (config/test.sh builds it)")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # daphne's hashers
    Membership.objects.create(user=person("ed"), tenant=tenant, role="owner")
    server, port = start_daphne("codefirst-daphne")
    worker = start_engine_worker("codefirst-worker")
    yield f"http://127.0.0.1:{port}"
    stop(worker)
    stop(server)


def node_state(page, name: str, state: str):
    page.locator(f'.program-diagram .live-node[aria-label^="{name}:"][data-state="{state}"]').wait_for()


def completions(page, expect: str) -> list[str]:
    """The completion list once it offers `expect` (the list of the word typed before may still be open)."""
    page.locator(".cm-tooltip-autocomplete li .cm-completionLabel", has_text=expect).first.wait_for()
    return page.locator(".cm-tooltip-autocomplete li .cm-completionLabel").all_inner_texts()


def test_a_code_first_workflow_is_written_checked_drawn_run_and_debugged_in_the_browser(stack, tenant):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium_page(1600, 900) as page:
        sign_in(page, stack, "ed", "a-long-password")
        # Create it from the list, as code.
        page.get_by_label("New workflow name").fill("Shipping")
        page.get_by_label("as code").check()
        page.get_by_role("button", name="Create").click()
        page.wait_for_url("**/editor/w/*")
        workflow_id = int(page.url.rstrip("/").split("/")[-1])
        program = page.get_by_role("textbox", name="Program", exact=True)
        program.wait_for()
        page.locator('.program-diagram .live-node[aria-label^="fetch_order"]').wait_for()  # the template, drawn

        # Write the program: the diagram follows (steps, the branch, its arms).
        program.fill(PROGRAM)
        page.locator('.program-diagram .live-node[aria-label^="charge"]').wait_for()
        for name in ("fetch_order", "approval", "small_order", "charge"):
            assert page.locator(f'.program-diagram .live-node[aria-label^="{name}"]').count() == 1
        assert page.locator('.program-diagram [aria-label="branch if (order.total > 100)"]').count() == 1
        assert page.locator(".program-diagram .react-flow__edge").count() == 7  # start, branch arms, joins, end

        # Completion from the step API's types: step members, then a step's ctx.step members.
        program.click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\nstep.")
        labels = completions(page, "waitForEvent")
        assert {"do", "sleep", "sleepUntil", "waitForEvent", "http", "secret"} <= set(labels)
        page.locator(".cm-tooltip-autocomplete").screenshot(path=str(SHOTS / "codefirst-completion.png"))
        page.keyboard.press("Escape")
        page.keyboard.type("dox(")
        # Checked against the types: an unknown member is marked, with the reason.
        hover_diagnostic(page, ".cm-content", "dox", "WorkflowStep has no member dox")
        page.keyboard.press("Control+z")
        page.keyboard.press("Control+z")
        program.fill(PROGRAM.replace('async () => "small");', 'async (ctx) => ctx.step.'))
        page.locator(".cm-content").first.click()
        page.keyboard.press("Control+End")
        for _ in range(10):  # to the end of the `ctx.step.` line (line 6)
            page.keyboard.press("ArrowUp")
            if "ctx.step." in page.locator(".cm-activeLine").first.inner_text():
                break
        page.keyboard.press("End")
        page.keyboard.press("Control+Space")
        assert sorted(completions(page, "count")) == ["count", "name"]
        page.keyboard.press("Escape")
        program.fill(PROGRAM)

        # Validate, Save, Publish, then Run with a payload: the live view draws the diagram.
        page.get_by_role("button", name="Validate").click()
        page.get_by_role("status").get_by_text("No problems: the program compiles").wait_for()
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_role("status").get_by_text("Saved as version 1").wait_for()
        page.get_by_role("button", name="Publish").click()
        page.get_by_role("status").get_by_text("Published version 1").wait_for()
        settled(page)
        page.screenshot(path=str(SHOTS / "codefirst-editor.png"))
        page.get_by_label("Test payload").fill(json.dumps({"total": 150}))
        page.get_by_role("button", name="Run", exact=True).click()
        page.wait_for_url("**/editor/w/*/i/*")
        instance_id = page.url.rstrip("/").split("/")[-1]
        node_state(page, "fetch_order", "succeeded")
        node_state(page, "approval", "waiting")
        node_state(page, "small_order", "queued")
        settled(page)
        page.screenshot(path=str(SHOTS / "codefirst-live-waiting.png"))

        # The event arrives: the taken arm goes on, the other is skipped, the charge fails.
        page.get_by_label("Event type").fill("approve")
        page.get_by_role("button", name="Send", exact=True).click()
        node_state(page, "charge", "failed")
        node_state(page, "small_order", "skipped")
        page.get_by_label("Instance status").get_by_text("errored").wait_for()
        page.locator('.program-diagram .live-node[aria-label^="charge"]').click()
        inspector = page.get_by_role("region", name="Step charge")
        frame = inspector.get_by_role("link", name="Open line 10")
        frame.wait_for()
        settled(page)
        page.screenshot(path=str(SHOTS / "codefirst-live-error.png"))
        assert "program:" not in inspector.inner_text()

        # The frame opens the program at its line.
        frame.click()
        page.wait_for_url(f"**/editor/w/{workflow_id}")
        page.locator('[data-testid="program"][data-revealed-line="10"]').wait_for()
        assert "throw new Error" in page.locator(".cm-activeLine").first.inner_text()
        page.get_by_role("status").get_by_text("Opened line 10").wait_for()
        page.screenshot(path=str(SHOTS / "codefirst-opened-line.png"))
    inst = Instance.objects.get(pk=instance_id)
    assert inst.status == "errored" and "program:" not in json.dumps(inst.error)


GRAPH = {
    "nodes": [
        {"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "prepare", "type": "code", "position": {"x": 240, "y": 0}, "data": {"code": "return { n: input.n };"}},
        {"id": "charge", "type": "code", "position": {"x": 480, "y": 0},
         "data": {"code": "const amount = input.n * 2;\n\nif (!input.card) throw new Error('no card on file');\nreturn amount;",
                  "retries": {"limit": 0}}},
    ],
    "edges": [{"id": "e1", "source": "start", "target": "prepare"}, {"id": "e2", "source": "prepare", "target": "charge"}],
}


def test_a_drawn_workflows_error_opens_its_node_and_line(stack, tenant):
    graph = GRAPH
    wf = workflow_create(tenant=tenant, slug="drawn", draft=graph)
    version_create_from_graph(workflow=wf, graph=graph, publish=True)
    wf.refresh_from_db()
    inst = services.instance_create(tenant=tenant, workflow=wf, params={"n": 2})
    wait_for(lambda: Instance.objects.get(pk=inst.pk).status == "errored", timeout=60, what="the instance to fail")
    with chromium_page(1600, 900) as page:
        sign_in(page, stack, "ed", "a-long-password", next=f"/editor/w/{wf.pk}/i/{inst.pk}")
        page.locator('.react-flow__node[data-id="charge"] .live-node[data-state="failed"]').wait_for()
        page.locator('.react-flow__node[data-id="charge"]').click()
        inspector = page.get_by_role("region", name="Step charge")
        frame = inspector.get_by_role("link", name="Open node charge, code line 3")
        frame.wait_for()
        assert "program:" not in inspector.inner_text()
        page.screenshot(path=str(SHOTS / "drawn-error-frame.png"))
        frame.click()
        page.wait_for_url(f"**/editor/w/{wf.pk}")
        page.get_by_role("complementary", name="Configure charge").wait_for()
        page.locator('[data-testid="field-code"][data-revealed-line="3"]').wait_for()
        assert "throw new Error" in page.locator('[data-testid="field-code"] .cm-activeLine').inner_text()
        page.get_by_role("status").get_by_text("Opened charge, code line 3").wait_for()
        page.screenshot(path=str(SHOTS / "drawn-error-opened.png"))

        # The code node completes and checks against the step API's types too.
        page.keyboard.press("End")
        page.keyboard.type("\nconst r = await step.")
        assert {"http", "secret"} <= set(completions(page, "secret"))
        page.keyboard.press("Escape")
        page.keyboard.type("htp();")
        hover_diagnostic(page, '[data-testid="field-code"]', "htp", "WorkflowStep has no member htp")
