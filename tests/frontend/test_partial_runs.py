"""Testing one node at a time in a real Chromium, at 1280x800 and 1920x1080: pin a node's test data
(a pin mark on the canvas), test the next node with it (the pinned node never runs, the run stops
after the tested node), run up to a node once unpinned; and the live view's minimap beside the
canvas, never over a node. Every step waits on a condition; screenshots in var/screenshots/
(partial-*)."""
import json
import os

import pytest

from engine.models import Instance
from tests.browser import SHOTS
from tests.frontend.test_editor import browser, node, wait_for  # noqa: F401
from tests.frontend.test_editor_loop import SIZES, daphne, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


@pytest.fixture(params=SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def size(request):
    return request.param


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"partial-{name}-{page.viewport_size['width']}.png"))


def chain() -> dict:
    """start -> fetch -> total -> notify; notify fails if it ever runs."""
    nodes = [("start", "manual", {}), ("fetch", "code", {"code": "return { price: 21 };"}),
             ("total", "code", {"code": "return { total: input.price * 2 };"}),
             ("notify", "code", {"code": "throw new NonRetryableError('notify ran');"})]
    return {"nodes": [{"id": i, "type": t, "position": {"x": 280 * k, "y": 0}, "data": d} for k, (i, t, d) in enumerate(nodes)],
            "edges": [{"id": f"e{k}", "source": a, "target": b}
                      for k, (a, b) in enumerate([("start", "fetch"), ("fetch", "total"), ("total", "notify")])]}


def run_next_test_instance(page, wf, drive, seen: set) -> Instance:
    """Wait for the instance the editor just asked for, then advance it (no worker runs beside live_server)."""
    wait_for(page, lambda: Instance.objects.filter(workflow=wf).exclude(pk__in=seen).exists())
    instance = Instance.objects.filter(workflow=wf).exclude(pk__in=seen).get()
    seen.add(instance.pk)
    drive()
    instance.refresh_from_db()
    return instance


def test_pin_a_nodes_data_test_the_next_node_then_run_up_to_it(browser, live_server, tenant, drive, size):
    from builder import services

    wf = services.workflow_create(tenant=tenant, name="Pricing", draft=chain())
    page = sign_in(browser, live_server, tenant, *size)
    page.goto(f"{live_server.url}/editor/w/{wf.id}")
    seen: set = set()

    # Pin fetch's output: a pin mark on the canvas, stored with the draft.
    node(page, "fetch").click()
    test = page.get_by_role("region", name="Test fetch")
    test.get_by_label("Pinned data of fetch").fill('{"price": 5}')
    test.get_by_role("button", name="Pin this data").click()
    page.get_by_role("status").get_by_text("Pinned test data of fetch").wait_for()
    node(page, "fetch").get_by_label("pinned test data").wait_for()
    wf.refresh_from_db()
    assert wf.pins == {"fetch": {"price": 5}}

    # Test the next node: it gets the pinned data; fetch does not run, nothing after total runs.
    node(page, "total").click()
    test = page.get_by_role("region", name="Test total")
    test.get_by_role("list", name="Input of a test of total").get_by_text("fetch: pinned data").wait_for()
    test.get_by_role("button", name="Test this node").click()
    instance = run_next_test_instance(page, wf, drive, seen)
    assert (instance.status, json.loads(instance.output), instance.test, instance.stop_after) == ("complete", {"total": 10}, True, "total")
    page.get_by_role("status").get_by_text("Test of total: complete").wait_for()
    last = page.get_by_role("region", name="Last run of total")
    last.get_by_label("Output of total").get_by_text('"total": 10').wait_for()
    page.get_by_label("1 item from fetch to total in the last run").wait_for()  # item counts for test runs too
    steps = {s.name: s.attempts for s in instance.steps.all()}
    assert steps == {"fetch": 0, "total": 1}  # fetch was given its pinned data; notify never ran
    shot(page, "tested-with-pin")
    node(page, "fetch").click()
    page.get_by_role("region", name="Last run of fetch").get_by_text("complete · 1 item · given data, not run").wait_for()

    # Unpinned, "run up to here" runs fetch for real, then total, and stops.
    node(page, "fetch").click()
    page.get_by_role("region", name="Test fetch").get_by_role("button", name="Unpin").click()
    page.get_by_role("status").get_by_text("Unpinned fetch").wait_for()
    node(page, "fetch").get_by_label("pinned test data").wait_for(state="detached")
    node(page, "total").click()
    page.get_by_role("region", name="Test total").get_by_role("button", name="Run up to here").click()
    instance = run_next_test_instance(page, wf, drive, seen)
    assert (instance.status, json.loads(instance.output)) == ("complete", {"total": 42})
    assert {s.name: s.attempts for s in instance.steps.all()} == {"fetch": 1, "total": 1}
    page.get_by_role("status").get_by_text("Run up to total: complete").wait_for()
    page.get_by_role("region", name="Last run of total").get_by_label("Output of total").get_by_text('"total": 42').wait_for()
    node(page, "notify").click()
    page.get_by_role("region", name="Last run of notify").get_by_text("Not reached in the last run.").wait_for()

    # Testing notify now takes fetch's and total's outputs from that run: only notify runs (and fails).
    test = page.get_by_role("region", name="Test notify")
    test.get_by_text("total: last run's output").wait_for()
    test.get_by_role("button", name="Test this node").click()
    instance = run_next_test_instance(page, wf, drive, seen)
    assert instance.status == "errored" and instance.error["message"] == "notify ran"
    assert {s.name: s.attempts for s in instance.steps.all()} == {"fetch": 0, "total": 0, "notify": 1}
    page.get_by_role("status").get_by_text("Test of notify: errored").wait_for()
    shot(page, "run-up-to-here")


INTERSECTING = """() => {
  const mini = document.querySelector('.side-minimap').getBoundingClientRect();
  const canvas = document.querySelector('.live-canvas').getBoundingClientRect();
  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const nodes = [...document.querySelectorAll('.live-canvas .react-flow__node')].map((n) => n.getBoundingClientRect());
  return { overCanvas: overlaps(mini, canvas), overNodes: nodes.filter((n) => overlaps(mini, n)).length, nodes: nodes.length,
           width: mini.width, height: mini.height };
}"""


def test_the_live_views_minimap_never_covers_a_node(browser, daphne, tenant, drive, size, settings):
    """Through daphne, so the live view's socket is real and the nodes show their states."""
    from builder import services
    from triggers.services import draft_instance_create

    graph = chain()
    graph["nodes"][3]["data"]["code"] = "return 'sent';"
    # A wide graph, filling the canvas, as the demo's order approval does at 1280x800.
    graph["nodes"] += [{"id": f"more{i}", "type": "code", "position": {"x": 280 * (4 + i), "y": 120 * (i % 3)}, "data": {"code": "return 1;"}}
                       for i in range(4)]
    graph["edges"] += [{"id": f"m{i}", "source": "notify" if i == 0 else f"more{i - 1}", "target": f"more{i}"} for i in range(4)]
    wf = services.workflow_create(tenant=tenant, name="Wide", draft=graph)
    instance = draft_instance_create(tenant=tenant, workflow=wf)
    drive()
    # daphne signs in with the default hashers, not the fast one the other tests use.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    page = sign_in(browser, type("Server", (), {"url": daphne}), tenant, *size)
    page.goto(f"{daphne}/editor/w/{wf.id}/i/{instance.pk}")
    page.locator('.live-canvas .react-flow__node[data-id="more3"] [data-state="succeeded"]').wait_for()
    page.get_by_label("Minimap").first.wait_for()
    placed = page.evaluate(INTERSECTING)
    assert placed["nodes"] == 8 and placed["width"] > 0 and placed["height"] > 0
    assert not placed["overCanvas"] and placed["overNodes"] == 0, placed
    shot(page, "live-minimap")
