"""The editor end to end in a real Chromium (Debian's, driven by Playwright; no browser download).

Screenshots for review land in var/screenshots/: editor-empty, editor-validation-error (each also
-1920 for 1920x1080), editor-10-nodes (1280x800, -1920, -dark-1920), editor-version-read-only,
editor-diff, editor-overview (1600x900, and -dark; docs/editor.png is a copy of it).
"""
import json
import os
from pathlib import Path

import pytest
from django.utils import timezone

from engine.models import Instance
from tests.browser import SHOTS, new_page, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


@pytest.fixture
def browser(module_chromium):
    """The module's Chromium (tests/frontend/conftest.py); the contexts this test opened close with it."""
    yield module_chromium
    for context in module_chromium.contexts:
        context.close()


@pytest.fixture
def page(browser, live_server):
    page = new_page(browser, 1280, 800, accept_downloads=True)
    yield page
    page.close()


@pytest.fixture
def signed_in(page, live_server, tenant):
    from tenants.models import Membership
    from tests.accounts import person

    Membership.objects.create(user=person("ed"), tenant=tenant, role="owner")
    sign_in(page, live_server.url, "ed", "a-long-password")
    return page


def frames(page, count: int = 2) -> None:
    """Waits until the browser has painted `count` more frames (React has rendered what it was given)."""
    page.evaluate("n => new Promise(r => { const step = k => k ? requestAnimationFrame(() => step(k - 1)) : r(); step(n); })", count)


def shot(page, name: str, both_sizes: bool = False) -> None:
    """A screenshot at the page's size (1280x800), and with both_sizes also at 1920x1080 (name-1920)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    if both_sizes:
        size = page.viewport_size
        page.set_viewport_size({"width": 1920, "height": 1080})
        frames(page)
        page.screenshot(path=str(SHOTS / f"{name}-1920.png"))
        page.set_viewport_size(size)
        frames(page)


def wait_for(page, condition) -> None:
    """Lets Playwright's event loop run (route handlers are called from it) until `condition()` holds."""
    while not condition():
        page.wait_for_timeout(20)


def release(page, route) -> None:
    """Lets a held request through and waits until its answer has arrived and been rendered."""
    url, method = route.request.url, route.request.method
    with page.expect_response(lambda r: r.url == url and r.request.method == method) as answer:
        route.continue_()
    answer.value.finished()
    frames(page)


def node(page, node_id: str):
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def connect(page, source: str, target: str, handle: str = "") -> None:
    """Drag from a source handle to the target's input handle (or onto the node, for a trigger which has none)."""
    which = f'[data-handleid="{handle}"]' if handle else ""
    start = node(page, source).locator(f".react-flow__handle.source{which}").first.bounding_box()
    inputs = node(page, target).locator(".react-flow__handle.target")
    end = inputs.first.bounding_box() if inputs.count() else node(page, target).bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def drag_from_palette(page, label: str, x: int, y: int) -> None:
    """HTML5 drag and drop from the palette onto the canvas, dropped at (x, y) inside the canvas."""
    page.get_by_role("navigation", name="Node types").get_by_role("button", name=label, exact=True).drag_to(
        page.locator(".canvas .react-flow__pane"), target_position={"x": x, "y": y})


def node_position(page, node_id: str) -> list[int]:
    """The node's position on the canvas, rounded as the saved graph rounds it."""
    return node(page, node_id).evaluate("n => n.style.transform.match(/-?[0-9.]+/g).map(v => Math.round(Number(v)))")


def wait_for_position(page, node_id: str, xy: list[int]) -> None:
    page.wait_for_function("([id, xy]) => { const n = document.querySelector(`.react-flow__node[data-id='${id}']`);"
                           " return n && n.style.transform.match(/-?[0-9.]+/g).map(v => Math.round(Number(v))).join() === xy.join(); }",
                           arg=[node_id, xy])


def open_new_workflow(page, name: str) -> None:
    page.get_by_label("New workflow name").fill(name)
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/editor/w/*")
    page.get_by_text("Drag a trigger from the palette").wait_for()


def test_draw_configure_validate_publish_export_import_and_run(signed_in, tenant, drive, live_server, settings):
    page = signed_in
    page.get_by_text("No workflows yet").wait_for()
    open_new_workflow(page, "orders")
    shot(page, "editor-empty", both_sizes=True)

    # Drag a webhook trigger, a code node and an HTTP node from the palette, and connect them.
    drag_from_palette(page, "Webhook", 80, 200)
    drag_from_palette(page, "Code", 330, 200)
    drag_from_palette(page, "HTTP request", 560, 330)
    for n in ("webhook_1", "code_1", "http_1"):
        node(page, n).wait_for()
    connect(page, "webhook_1", "code_1")
    connect(page, "code_1", "http_1")
    page.locator(".react-flow__edge").nth(1).wait_for()
    # A webhook trigger says how to call it, signed for its auth scheme.
    node(page, "webhook_1").click()
    help_ = page.get_by_role("region", name="How to call this webhook")
    help_.get_by_text(f"{live_server.url}/hooks/{tenant.slug}/orders").first.wait_for()
    assert "webhook-signature: v1,$SIG" in help_.get_by_label("curl example").inner_text()
    # Refused while dragging: nothing into a trigger, no cycles.
    connect(page, "http_1", "webhook_1")
    connect(page, "http_1", "code_1")
    page.get_by_role("status").get_by_text("Not connected: that would make a cycle").wait_for()
    assert page.locator(".react-flow__edge").count() == 2

    # The server's problems appear on the nodes and in the problems list; one selects its node.
    page.get_by_role("button", name="Validate").click()
    problems = page.get_by_role("region", name="Problems")
    problems.get_by_text("http_1").first.wait_for()
    assert node(page, "http_1").locator(".node.invalid").count() == 1
    assert node(page, "code_1").locator(".node.invalid").count() == 0  # starts as `return input;`
    shot(page, "editor-validation-error", both_sizes=True)
    # Saving keeps a draft with problems, but it does not become a version until they are fixed.
    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Saved as a draft: 1 problem(s)").wait_for()
    problems.get_by_role("button", name="http_1").first.click()
    panel = page.get_by_role("complementary", name="Configure http_1")
    panel.get_by_role("list", name="Problems of http_1").wait_for()

    # Fix it: URL in the expression editor, a header in the key/value list, a timeout.
    url = f"{live_server.url}/accounts/login/"
    panel.get_by_label("URL", exact=True).fill(url)
    panel.get_by_role("button", name="Add key").click()
    panel.get_by_label("Headers key 1").fill("accept")
    panel.get_by_label("Headers value 1").fill("text/html")
    panel.get_by_label("Timeout amount").fill("30")
    panel.get_by_label("Timeout unit").select_option("seconds")
    node(page, "http_1").locator(".node-summary").get_by_text("GET http://").wait_for()
    node(page, "http_1").locator(".node.invalid").wait_for(state="detached")  # problems follow the edits
    shot(page, "editor-http-config")  # the form in the side column at 1280

    # Configure the code node in CodeMirror: completions offer the upstream nodes.
    node(page, "code_1").click()
    panel = page.get_by_role("complementary", name="Configure code_1")
    editor = panel.get_by_label("Code", exact=True)
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("const via = steps.")
    # Accepted with the mouse: CodeMirror ignores Enter for 75 ms after the list opens (its
    # interactionDelay), which only a fixed wait could respect; a click applies at once.
    page.locator(".cm-tooltip-autocomplete li", has_text="webhook_1").click()
    page.locator(".cm-tooltip-autocomplete").wait_for(state="detached")
    page.keyboard.type(";")
    page.keyboard.press("Enter")
    page.keyboard.type("return input.body.n * 2;")
    assert editor.inner_text() == "const via = steps.webhook_1;\nreturn input.body.n * 2;"

    page.get_by_role("button", name="Validate").click()
    page.get_by_role("status").get_by_text("No problems").wait_for()
    assert page.locator(".node.invalid").count() == 0

    page.get_by_role("button", name="Save").click()
    page.get_by_role("status").get_by_text("Saved as version 1").wait_for()
    page.get_by_role("button", name="Publish").click()
    page.get_by_role("status").get_by_text("Published version 1").wait_for()
    page.get_by_text("v1 live").wait_for()  # Run starts the published version: the toolbar says which

    # Undo and redo a move.
    before = node_position(page, "http_1")
    box = node(page, "http_1").bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 12)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + 112, steps=6)
    page.mouse.up()
    page.wait_for_function("([id, xy]) => document.querySelector(`.react-flow__node[data-id='${id}']`).style.transform"
                           ".match(/-?[0-9.]+/g).map(v => Math.round(Number(v))).join() !== xy.join()", arg=["http_1", before])
    moved = node_position(page, "http_1")
    page.get_by_role("button", name="Undo").click()
    wait_for_position(page, "http_1", before)
    page.keyboard.press("Control+Shift+z")
    wait_for_position(page, "http_1", moved)

    # Export, change the canvas, re-import: the exported graph comes back.
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert sorted(n["id"] for n in exported["nodes"]) == ["code_1", "http_1", "webhook_1"]
    page.get_by_role("button", name="Sleep", exact=True).click()
    node(page, "sleep_1").wait_for()
    page.get_by_text("draft differs from v1").wait_for()
    page.get_by_label("Import graph").set_input_files(download.value.path())
    page.get_by_role("status").get_by_text("Imported 3 nodes").wait_for()
    node(page, "sleep_1").wait_for(state="detached")
    page.locator(".react-flow__edge").nth(1).wait_for()
    assert page.locator(".react-flow__edge").count() == 2
    page.get_by_text("v1 live").wait_for()  # moved nodes, same meaning

    # Run with a test payload: the instance starts and the editor hands over to it.
    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1", "localhost"]
    page.keyboard.press("Control+s")
    page.get_by_role("status").get_by_text("Saved").wait_for()
    # The payload is a JSON editor in a popover; Run is refused (and says why) while it is not JSON.
    page.get_by_role("button", name="Payload").click()
    payload = page.get_by_label("Test payload")
    page.wait_for_function("() => document.activeElement?.getAttribute('aria-label') === 'Test payload'")  # focus moves in
    payload.fill('{"n": }')
    page.get_by_text("Not JSON:").wait_for()
    assert page.get_by_role("button", name="Run", exact=True).is_disabled()
    assert page.get_by_text("payload is not JSON").is_visible()
    payload.fill('{"n": 21}')
    page.get_by_text("Valid JSON").wait_for()
    shot(page, "editor-payload")
    # A double click starts one instance (the second click lands while the first Run is in flight).
    # (Run's guard drops a second click while the first is pending: no time has to pass to know it.)
    page.get_by_role("button", name="Run", exact=True).dblclick()
    page.wait_for_url("**/editor/w/*/i/*")
    assert Instance.objects.filter(tenant=tenant).count() == 1
    instance = Instance.objects.get(tenant=tenant)
    assert page.url.endswith(f"/i/{instance.id}")
    # Run started the draft as drawn, on an unpublished version; the live version stays v1.
    assert instance.version.graph == instance.workflow.draft and instance.workflow.published_version.number == 1
    # A webhook trigger's test run gets a delivery's shape, with the payload as its body.
    assert instance.params == {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": {"n": 21}}
    drive()
    instance.refresh_from_db()
    assert instance.status == "complete", instance.error
    draft = instance.workflow.draft
    code = next(n for n in draft["nodes"] if n["id"] == "code_1")
    assert code["data"] == {"code": "const via = steps.webhook_1;\nreturn input.body.n * 2;"}
    http = next(n for n in draft["nodes"] if n["id"] == "http_1")
    assert http["data"] == {"url": url, "headers": {"accept": "text/html"}, "timeout": "30 seconds"}

    # The payload is remembered for this workflow.
    page.get_by_role("link", name="← Editor").click()
    node(page, "code_1").wait_for()
    page.get_by_role("button", name="Payload").click()
    assert page.get_by_label("Test payload").inner_text() == '{"n": 21}'
    page.keyboard.press("Escape")  # closes it, focus back on its button
    page.get_by_role("dialog", name="Payload for test runs").wait_for(state="detached")
    assert page.evaluate("() => document.activeElement.textContent") == "Payload"


def test_copy_paste_delete_and_keyboard(signed_in):
    page = signed_in
    open_new_workflow(page, "keys")
    page.get_by_role("button", name="Manual start", exact=True).click()
    page.get_by_role("button", name="Sleep", exact=True).click()
    node(page, "sleep_1").wait_for()
    page.get_by_role("button", name="Undo").click()
    node(page, "sleep_1").wait_for(state="detached")
    page.get_by_role("button", name="Redo").click()
    node(page, "sleep_1").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    node(page, "sleep_2").wait_for()
    # Delete removes the selection (the pasted copy is selected).
    page.keyboard.press("Delete")
    node(page, "sleep_2").wait_for(state="detached")
    node(page, "sleep_1").click()
    page.keyboard.press("Delete")
    node(page, "sleep_1").wait_for(state="detached")
    page.keyboard.press("Control+z")
    node(page, "sleep_1").wait_for()

    # The browser's Back asks before leaving unsaved work; cancelling stays, with the URL put back.
    editor_url = page.url
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.go_back()
    page.wait_for_function("url => location.href === url", arg=editor_url)
    assert asked == ["Leave without saving your changes?"]
    node(page, "sleep_1").wait_for()
    frames(page)
    assert page.url == editor_url and node(page, "sleep_1").is_visible()
    page.once("dialog", lambda d: d.accept())
    page.go_back()
    page.get_by_role("link", name="keys").wait_for()
    assert page.url.endswith("/editor/")


def test_edit_while_saving_stays_unsaved(signed_in, tenant):
    """An edit made while Save's request is in flight is not in what was saved: it stays marked unsaved."""
    from builder.models import Workflow

    page = signed_in
    open_new_workflow(page, "slow-save")
    page.get_by_role("button", name="Manual start", exact=True).click()
    node(page, "manual_1").wait_for()
    held = []  # the draft's PATCH, answered only after the edit below
    page.route("**/api/v1/workflows/*", lambda route: held.append(route) if route.request.method == "PATCH" else route.continue_())
    page.get_by_role("button", name="Save", exact=True).click()
    wait_for(page, lambda: held)
    page.get_by_role("button", name="Sleep", exact=True).click()
    node(page, "sleep_1").wait_for()
    held[0].continue_()
    page.get_by_role("status").get_by_text("Saved").wait_for()
    saved = Workflow.objects.get(tenant=tenant, slug="slow-save").draft
    assert [n["id"] for n in saved["nodes"]] == ["manual_1"]
    assert page.get_by_label("unsaved changes").is_visible()


def test_problems_follow_the_newest_edit_whatever_order_answers_arrive(signed_in, live_server):
    page = signed_in
    open_new_workflow(page, "slow-validate")
    page.get_by_role("button", name="Manual start", exact=True).click()
    page.get_by_role("button", name="HTTP request", exact=True).click()  # after the selected node, connected
    node(page, "http_1").wait_for()
    page.locator(".react-flow__edge").first.wait_for(state="attached")
    page.get_by_role("button", name="Validate").click()
    node(page, "http_1").locator(".node.invalid").wait_for()
    # The revalidation of an edit that keeps the problem answers after the one of the fix.
    held = []
    page.route("**/api/v1/validate", lambda route: route.continue_() if held else held.append(route))
    page.get_by_role("button", name="Sleep", exact=True).click()
    wait_for(page, lambda: held)
    page.get_by_role("region", name="Problems").get_by_role("button", name="http_1").first.click()
    page.get_by_role("complementary", name="Configure http_1").get_by_label("URL", exact=True).fill(f"{live_server.url}/")
    node(page, "http_1").locator(".node.invalid").wait_for(state="detached")
    release(page, held[0])
    assert node(page, "http_1").locator(".node.invalid").count() == 0


def save_versions(tenant, graphs):
    from builder import services

    wf = services.workflow_create(tenant=tenant, slug="approvals", name="Approvals", draft=graphs[-1])
    for g in graphs:
        services.version_create_from_graph(workflow=wf, graph=g, publish=True)
    return wf


def test_old_version_read_only_diff_and_program(signed_in, tenant, live_server):
    v1 = {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                    {"id": "check", "type": "branch", "position": {"x": 250, "y": 0}, "data": {"condition": "{{ input.total > 100 }}"}},
                    {"id": "small", "type": "code", "position": {"x": 500, "y": 100}, "data": {"code": "return 'small';"}}],
          "edges": [{"id": "e1", "source": "start", "target": "check"},
                    {"id": "e2", "source": "check", "target": "small", "sourceHandle": "false"}]}
    v2 = {"nodes": [v1["nodes"][0], {**v1["nodes"][1], "data": {"condition": "{{ input.total > 500 }}"}},
                    {"id": "ask", "type": "approval", "position": {"x": 500, "y": -100}, "data": {"message": "Approve?"}}],
          "edges": [v1["edges"][0], {"id": "e3", "source": "check", "target": "ask", "sourceHandle": "true"}]}
    wf = save_versions(tenant, [v1, v2])
    page = signed_in
    page.goto(f"{live_server.url}/editor/w/{wf.id}")
    node(page, "ask").wait_for()
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("complementary", name="Versions")

    fits = fit_count(page)
    versions.get_by_role("button", name="Open version 1").click()
    banner = page.get_by_role("region", name="Read-only view")
    banner.get_by_text("Version 1").wait_for()
    node(page, "small").wait_for()
    assert node(page, "ask").count() == 0
    wait_fitted(page, fits)
    shot(page, "editor-version-read-only")
    # Read-only: no dragging, no deleting, no palette.
    before = node_position(page, "small")
    node(page, "small").click()
    page.keyboard.press("Delete")
    box = node(page, "small").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 60, steps=5)
    page.mouse.up()
    assert node(page, "small").count() == 1 and node_position(page, "small") == before
    assert page.get_by_role("button", name="Code", exact=True).is_disabled()

    versions.get_by_label("Older version").select_option("1")
    versions.get_by_label("Newer version").select_option("2")
    fits = fit_count(page)
    versions.get_by_role("button", name="Diff").click()
    banner.get_by_text("Changes from v1 to v2").wait_for()
    assert node(page, "ask").locator(".node.diff-added").count() == 1
    assert node(page, "small").locator(".node.diff-removed").count() == 1
    assert node(page, "check").locator(".node.diff-changed").count() == 1
    assert node(page, "start").locator(".node[class*=diff-]").count() == 0
    assert page.locator(".react-flow__edge.diff-removed").count() == 1
    assert page.locator(".react-flow__edge.diff-added").count() == 1
    wait_fitted(page, fits)  # once the diff's nodes are measured
    # A changed node lists which of its fields changed, with both values.
    node(page, "check").click()
    changes = page.get_by_role("region", name="Changes of check")
    changes.get_by_text("condition").wait_for()
    assert "{{ input.total > 100 }} → {{ input.total > 500 }}" in changes.inner_text()
    shot(page, "editor-diff", both_sizes=True)

    versions.get_by_role("button", name="Program of version 2").click()
    program = page.get_by_label("Compiled program of version 2")
    program.get_by_text("Compiled by the builder from a workflow graph").wait_for()  # its first line
    assert program.get_attribute("contenteditable") == "true" and program.get_attribute("aria-readonly") == "true"
    # In a wide view over the canvas, not the side column.
    assert page.get_by_role("dialog", name="Program of version 2").bounding_box()["width"] > 1000
    shot(page, "editor-program-wide", both_sizes=True)
    page.get_by_role("button", name="Close program").click()
    program.wait_for(state="detached")

    banner.get_by_role("button", name="Back to draft").click()
    banner.wait_for(state="detached")
    node(page, "ask").wait_for()
    assert node(page, "small").count() == 0

    # An old version can be copied into the draft, as one change that Undo takes back.
    versions.get_by_role("button", name="Open version 1").click()
    banner.get_by_role("button", name="Copy into draft").click()
    banner.wait_for(state="detached")
    node(page, "small").wait_for()
    assert node(page, "ask").count() == 0
    page.get_by_role("button", name="Undo").click()
    node(page, "ask").wait_for()
    assert node(page, "small").count() == 0

    # Publishing from the list and from the toolbar: each side shows what the other did.
    toolbar = page.locator("header.toolbar")
    toolbar.get_by_text("v2 live").wait_for()
    versions.get_by_role("button", name="Publish version 1").click()
    versions.get_by_role("status").get_by_text("Version 1 is live").wait_for()
    toolbar.get_by_text("draft differs from v1").wait_for()
    toolbar.get_by_role("button", name="Publish", exact=True).click()
    page.get_by_role("status").get_by_text("Published version 2").wait_for()
    versions.get_by_role("listitem", name="Version 2").get_by_text("live").wait_for()
    assert versions.get_by_role("listitem", name="Version 1").get_by_text("live").count() == 0


def test_instance_list_shows_the_latest_filter_whatever_order_answers_arrive(signed_in, tenant, live_server):
    graph = {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                       {"id": "work", "type": "code", "position": {"x": 250, "y": 0}, "data": {"code": "return 1;"}}],
             "edges": [{"id": "e1", "source": "start", "target": "work"}]}
    wf = save_versions(tenant, [graph])
    wf.refresh_from_db()
    for key, status in [("bad-one", "errored"), ("good-one", "complete")]:
        Instance.objects.create(tenant=tenant, workflow=wf, version=wf.published_version, key=key, status=status,
                                created_at=timezone.now())
    page = signed_in
    page.goto(f"{live_server.url}/editor/w/{wf.id}/instances")
    page.get_by_role("link", name="bad-one").wait_for()
    page.get_by_role("link", name="good-one").wait_for()
    # The list for the first filter answers last (a slow request): the list must stay on the second.
    held = []
    page.route("**/api/v1/instances?*",
               lambda route: held.append(route) if "status=errored" in route.request.url else route.continue_())
    page.get_by_role("form", name="Filters").locator("select").select_option("errored")
    wait_for(page, lambda: held)
    page.get_by_role("form", name="Filters").locator("select").select_option("complete")
    page.get_by_role("link", name="bad-one").wait_for(state="detached")
    release(page, held[0])
    assert page.get_by_role("link", name="good-one").is_visible()
    assert page.get_by_role("link", name="bad-one").count() == 0


def test_workflow_search_shows_the_latest_query_whatever_order_answers_arrive(signed_in, tenant):
    from builder import services

    services.workflow_create(tenant=tenant, slug="orders", name="Orders")
    services.workflow_create(tenant=tenant, slug="refunds", name="Refunds")
    page = signed_in
    page.reload()
    page.get_by_role("link", name="Orders").wait_for()
    # The answer for "r" (both match) arrives after the one for "ref" (only Refunds).
    held = []
    page.route("**/api/v1/workflows?*",
               lambda route: held.append(route) if "search=r&" in route.request.url else route.continue_())
    page.get_by_label("Search workflows").fill("r")
    wait_for(page, lambda: held)
    page.get_by_label("Search workflows").fill("ref")
    page.get_by_role("link", name="Orders").wait_for(state="detached")
    release(page, held[0])
    assert page.get_by_role("link", name="Refunds").is_visible()
    assert page.get_by_role("link", name="Orders").count() == 0


def test_a_refused_program_says_why_instead_of_showing_the_error_as_code(signed_in, tenant, other_tenant, live_server):
    from django.contrib.auth.models import User

    from tenants.models import Membership

    graph = {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}}], "edges": []}
    wf = save_versions(tenant, [graph])
    Membership.objects.create(user=User.objects.get(username="ed"), tenant=other_tenant, role="viewer")
    page = signed_in
    page.goto(f"{live_server.url}/editor/w/{wf.id}")
    node(page, "start").wait_for()
    page.get_by_role("button", name="Versions").click()
    versions = page.get_by_role("complementary", name="Versions")
    versions.get_by_role("button", name="Program of version 1").wait_for()
    # Another tab switches the session to the other tenant: this workflow is no longer found.
    answer = page.request.post(f"{live_server.url}/api/v1/me/tenant", data={"tenant": other_tenant.slug},
                               headers={"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")})
    assert answer.ok
    versions.get_by_role("button", name="Program of version 1").click()
    versions.get_by_role("status").get_by_text("Program of v1: no such workflow").wait_for()
    assert page.get_by_label("Compiled program of version 1").count() == 0


def ten_node_graph():
    ids = ["hook", "parse", "check", "enrich", "notify", "join", "wait", "approve", "store", "done"]
    types = ["webhook", "code", "branch", "http", "code", "merge", "sleep", "approval", "code", "respond"]
    data = [{"auth": "github", "secret_name": "GH"}, {"code": "return input.body;"}, {"condition": "{{ input.total > 100 }}"},
            {"url": "https://api.example.com/customers/{{ input.customer }}", "method": "GET"}, {"code": "return { notified: true };"},
            {}, {"duration": "10 minutes"}, {"message": "Approve order {{ input.id }}?", "timeout": "2 days"},
            {"code": "return { stored: input };"}, {"status": 201}]
    edges = [("hook", "parse", None), ("parse", "check", None), ("check", "enrich", "true"), ("check", "notify", "false"),
             ("enrich", "join", None), ("notify", "join", None), ("join", "wait", None), ("wait", "approve", None),
             ("approve", "store", "approved"), ("store", "done", None)]
    return {"nodes": [{"id": i, "type": t, "position": {"x": 0, "y": 0}, "data": d} for i, t, d in zip(ids, types, data)],
            "edges": [{"id": f"e{k}", "source": s, "target": t, **({"sourceHandle": h} if h else {})}
                      for k, (s, t, h) in enumerate(edges)]}


def nodes_outside_view(page) -> list[str]:
    """The ids of the nodes not wholly inside the visible canvas (nor under the minimap)."""
    return page.evaluate(OUTSIDE_VIEW)


def wait_fitted(page, after: int = 0) -> None:
    """Waits until the view was fitted (more than `after` times) after every node was measured."""
    page.wait_for_function("n => Number(document.querySelector('.canvas')?.dataset.fitted ?? 0) > n", arg=after)
    frames(page)


def fit_count(page) -> int:
    return page.evaluate("() => Number(document.querySelector('.canvas')?.dataset.fitted ?? 0)")


def zoom(page) -> float:
    return page.evaluate("() => Number(document.querySelector('.react-flow__viewport').style.transform.match(/scale\\(([0-9.]+)/)[1])")


def auto_layout(page) -> None:
    """Clicks Auto-layout and waits until the laid-out graph was fitted into the view."""
    fits = fit_count(page)
    page.get_by_role("button", name="Auto-layout").click()
    wait_fitted(page, fits)


OUTSIDE_VIEW = """() => {
        const view = document.querySelector('.canvas .react-flow').getBoundingClientRect();
        const map = document.querySelector('.react-flow__minimap').getBoundingClientRect();
        const inside = (r, b) => r.left >= b.left && r.right <= b.right && r.top >= b.top && r.bottom <= b.bottom;
        const overlaps = (r, b) => r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top;
        return [...document.querySelectorAll('.react-flow__node')].filter(n => {
            const r = n.getBoundingClientRect();
            return !inside(r, view) || overlaps(r, map);
        }).map(n => n.dataset.id);
    }"""


def test_ten_nodes_layout_accessibility_and_sizes(signed_in, tenant, live_server):
    from builder.models import Workflow

    wf = Workflow.objects.create(tenant=tenant, slug="big", name="Order intake", draft=ten_node_graph())
    page = signed_in
    page.goto(f"{live_server.url}/editor/w/{wf.id}")
    node(page, "done").wait_for()
    auto_layout(page)
    # Each node type shows its own summary.
    assert "github" in node(page, "hook").inner_text()
    assert "if {{ input.total > 100 }}" in node(page, "check").inner_text()
    assert "for 10 minutes" in node(page, "wait").inner_text()
    node(page, "approve").click()
    shot(page, "editor-10-nodes")
    # Readable rather than whole: at 1280x800 the view opens on the start, at 0.75 or more; the
    # minimap (beside the canvas) covers nothing.
    assert zoom(page) >= 0.75
    outside = nodes_outside_view(page)
    assert "hook" not in outside and "parse" not in outside and len(outside) < 10
    # Opened again (laid out and saved), it is fitted the same way.
    page.keyboard.press("Control+s")
    page.get_by_role("status").get_by_text("Saved").wait_for()
    page.reload()
    node(page, "done").wait_for()
    wait_fitted(page)
    assert zoom(page) >= 0.75 and "hook" not in nodes_outside_view(page)
    node(page, "approve").click()
    page.set_viewport_size({"width": 1920, "height": 1080})
    auto_layout(page)  # lays out and fits again at the new size
    shot(page, "editor-10-nodes-1920")
    assert zoom(page) >= 0.75
    page.emulate_media(color_scheme="dark")
    shot(page, "editor-10-nodes-dark-1920")
    page.emulate_media(color_scheme="light")
    # The README's picture (docs/editor.png is copied from it).
    page.set_viewport_size({"width": 1600, "height": 900})
    node(page, "parse").click()
    auto_layout(page)
    shot(page, "editor-overview")
    page.emulate_media(color_scheme="dark")
    shot(page, "editor-overview-dark")
    page.emulate_media(color_scheme="light")

    # Every control has a name a screen reader can say.
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea, [contenteditable=true]')]
        .filter(e => e.offsetParent !== null || e.type === 'file')
        .filter(e => !(e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.labels?.length || e.textContent.trim() || e.title))
        .map(e => e.outerHTML.slice(0, 120))""")
    assert unnamed == []
    # Focus is visible on keyboard navigation.
    page.get_by_role("link", name="← Workflows").focus()
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    # Nothing overflows the page horizontally at 1280 (the toolbar scrolls inside itself if needed).
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 1280


def test_workflow_list_tenant_search_duplicate_archive(signed_in, tenant, other_tenant, live_server):
    from django.contrib.auth.models import User

    from builder import services
    from builder.models import Workflow
    from tenants.models import Membership

    services.workflow_create(tenant=tenant, slug="orders", name="Orders", draft=ten_node_graph())
    services.workflow_create(tenant=tenant, slug="refunds", name="Refunds")
    services.workflow_create(tenant=other_tenant, slug="elsewhere", name="Elsewhere")
    Membership.objects.create(user=User.objects.get(username="ed"), tenant=other_tenant, role="viewer")
    page = signed_in
    page.reload()
    page.get_by_role("link", name="Orders").wait_for()
    assert page.get_by_role("link", name="Elsewhere").count() == 0

    page.get_by_label("Search workflows").fill("ref")
    page.get_by_role("link", name="Orders").wait_for(state="detached")
    page.get_by_role("link", name="Refunds").wait_for()
    page.get_by_label("Search workflows").fill("")

    page.get_by_role("button", name="Duplicate Orders").click()
    page.get_by_role("link", name="Orders (copy)").wait_for()
    copy = Workflow.objects.get(tenant=tenant, slug="orders-copy")
    assert copy.draft == Workflow.objects.get(tenant=tenant, slug="orders").draft

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Archive Refunds").click()
    page.get_by_role("link", name="Refunds").wait_for(state="detached")
    page.get_by_label("Archived").check()
    page.get_by_role("link", name="Refunds").wait_for()
    page.get_by_label("Archived").uncheck()

    page.get_by_label("Tenant").select_option(other_tenant.slug)
    page.get_by_role("link", name="Elsewhere").wait_for()
    assert page.get_by_role("link", name="Orders").count() == 0
