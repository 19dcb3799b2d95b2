"""The live view end to end in a real Chromium, against a server that serves WebSockets.

Django's live_server speaks HTTP only, so daphne serves the app (pages, API and sockets) and a
separate engine worker process runs the instances: they meet only in the test database, as in the
embedded deployment. A small HTTP server in this process plays a warehouse that answers 503 once.
"""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from builder.services import version_create_from_graph, workflow_create
from engine import services
from engine.models import Instance
from tests.browser import CHROMIUM, SHOTS, chromium_page, settled
from tests.processes import start_daphne, start_engine_worker, stop, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="runs once, in the embedded suite")]


def node(id, type, data=None, x=0, y=0):
    return {"id": id, "type": type, "position": {"x": x, "y": y}, "data": data or {}}


def edge(source, target, handle=None):
    return {"id": f"{source}-{handle or 'out'}-{target}", "source": source, "target": target,
            **({"sourceHandle": handle} if handle else {})}


GRAPH = {
    "nodes": [
        node("start", "manual", x=0, y=100),
        node("prepare", "code", {"code": 'if (input.n < 0) throw new NonRetryableError("n must be positive");\n'
                                         'console.log("preparing order", input.n);\nreturn { n: input.n * 2, warehouse: input.warehouse };'},
             x=220, y=100),
        node("reserve", "code", {"code": "const r = await step.http({ url: input.warehouse });\n"
                                         "if (!r.ok) throw new Error(`the warehouse answered ${r.status}`);\n"
                                         "return { n: input.n, reserved: r.json };",
                                 "retries": {"limit": 5, "delay": "3 seconds", "backoff": "constant"}}, x=460, y=100),
        node("cool_off", "sleep", {"duration": "20 seconds"}, x=700, y=100),
        node("manager", "approval", {"timeout": "1 hour"}, x=940, y=100),
        node("ship", "code", {"code": "return { shipped: true, by: input.by };"}, x=1180, y=20),
        node("cancel", "code", {"code": "return { shipped: false };"}, x=1180, y=200),
    ],
    "edges": [edge("start", "prepare"), edge("prepare", "reserve"), edge("reserve", "cool_off"), edge("cool_off", "manager"),
              edge("manager", "ship", "approved"), edge("manager", "cancel", "rejected")],
}


class Warehouse(BaseHTTPRequestHandler):
    calls = 0

    def do_GET(self):
        Warehouse.calls += 1
        body = json.dumps({"sku": "A-1", "count": 3}).encode()
        self.send_response(503 if Warehouse.calls == 1 else 200)  # busy the first time only
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve(port: int = 0):
    """daphne on loopback: port 0 binds a free port itself (no race); a restart reuses `port`."""
    return start_daphne("live-e2e-daphne", port=port)


@pytest.fixture
def stack(tenant):
    """daphne + an engine worker on the test database, and the warehouse."""
    from frontend.views import DIST

    if not Path(CHROMIUM).exists():  # before starting servers
        pytest.skip("Debian's chromium is not installed (config/test.sh installs it)")
    # A build running elsewhere empties the folder for a moment: wait for its manifest.
    wait_for(lambda: (DIST / ".vite" / "manifest.json").exists(), timeout=120, what="the built editor (config/test.sh builds it)")
    warehouse = ThreadingHTTPServer(("127.0.0.1", 0), Warehouse)
    Warehouse.calls = 0
    threading.Thread(target=warehouse.serve_forever, daemon=True).start()
    server, port = serve()
    procs = {"server": server, "worker": start_engine_worker("live-e2e-worker", ENGINE_HTTP_ALLOWED_PRIVATE="127.0.0.1")}
    yield {"url": f"http://127.0.0.1:{port}", "port": port, "procs": procs,
           "warehouse": f"http://127.0.0.1:{warehouse.server_address[1]}/stock"}
    for p in procs.values():
        stop(p)
    warehouse.shutdown()


@pytest.fixture
def page(stack):
    with chromium_page(1600, 900, timeout_ms=30000) as page:
        yield page


def state_of(page, node_id: str):
    return page.locator(f'.react-flow__node[data-id="{node_id}"] .live-node')


def wait_state(page, node_id: str, state: str, timeout: float = 30000):
    page.locator(f'.react-flow__node[data-id="{node_id}"] .live-node[data-state="{state}"]').wait_for(timeout=timeout)


def test_an_instance_is_watched_live_approved_and_survives_reloads_and_a_server_restart(stack, page, tenant, settings):
    from tenants.models import Membership
    from tests.accounts import person
    from tests.browser import sign_in

    # daphne signs in with the default hashers, not the fast one the other tests use.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = person("ed")
    Membership.objects.create(user=user, tenant=tenant, role="owner")
    wf = workflow_create(tenant=tenant, slug="orders", draft=GRAPH)
    version_create_from_graph(workflow=wf, graph=GRAPH, publish=True)
    wf.refresh_from_db()
    SHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, stack["url"], "ed", "a-long-password", next=f"/editor/w/{wf.pk}")
    page.locator('.react-flow__node[data-id="prepare"]').wait_for()

    # Run from the editor: it opens the live view.
    page.get_by_role("button", name="Payload").click()
    page.get_by_label("Test payload").fill(json.dumps({"n": 21, "warehouse": stack["warehouse"]}))
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url("**/editor/w/*/i/*")
    instance_id = page.url.rstrip("/").split("/")[-1]
    page.get_by_label("Connection").get_by_text("live").wait_for()

    # The nodes change state live: prepare succeeds, reserve fails once and waits for its retry.
    wait_state(page, "start", "succeeded")
    wait_state(page, "prepare", "succeeded")
    wait_state(page, "reserve", "retrying")
    assert "attempt 1 failed" in state_of(page, "reserve").inner_text()
    page.locator('.react-flow__node[data-id="reserve"]').click()
    inspector = page.get_by_role("region", name="Step reserve")
    inspector.get_by_text("the warehouse answered 503").first.wait_for()
    assert '"n": 42' in inspector.locator(".json").first.inner_text()  # its input: prepare's output
    page.screenshot(path=str(SHOTS / "live-failed-attempt.png"))
    assert "preparing order" in page.get_by_role("region", name="Logs").inner_text()

    # The retry succeeds; reload during the sleep: the state is rebuilt from the server.
    wait_state(page, "reserve", "succeeded")
    wait_state(page, "cool_off", "sleeping")
    page.reload()
    wait_state(page, "prepare", "succeeded")
    wait_state(page, "reserve", "succeeded")
    assert "2 attempts" in state_of(page, "reserve").inner_text()
    wait_state(page, "cool_off", "sleeping")
    assert page.locator('.react-flow__edge.taken').count() == 3  # start->prepare->reserve->cool_off

    # Kill the socket: stop the server while the instance sleeps; the worker goes on, the events
    # it writes meanwhile are missed by the browser and replayed after the reconnection.
    stop(stack["procs"]["server"])
    page.get_by_label("Connection").get_by_text("reconnecting").wait_for()
    wait_for(lambda: Instance.objects.get(pk=instance_id).status == "waiting"
             and Instance.objects.get(pk=instance_id).steps.filter(name="manager").exists(), timeout=40,
             what="the worker to reach the approval while the server is down")
    assert state_of(page, "manager").get_attribute("data-state") == "queued"  # not seen yet
    stack["procs"]["server"] = serve(stack["port"])[0]
    back = time.monotonic()
    page.get_by_label("Connection").get_by_text("live").wait_for(timeout=20000)
    reconnected = time.monotonic()
    wait_state(page, "manager", "waiting", timeout=5000)
    converged = time.monotonic()
    print(f"server back -> socket live {reconnected - back:.2f} s; live -> converged {converged - reconnected:.2f} s")
    assert converged - reconnected < 2
    assert "waiting for approval:manager" in state_of(page, "manager").inner_text()

    # Approve from the UI: the approved side runs, the rejected side is skipped.
    page.get_by_role("group", name="Approval manager").get_by_role("button", name="Approve").click()
    wait_state(page, "ship", "succeeded")
    wait_state(page, "cancel", "skipped")
    page.get_by_label("Instance status").get_by_text("complete").wait_for()
    assert page.locator('.react-flow__edge.taken').count() == 5
    page.mouse.click(5, 300)  # deselect: the timeline alone on the side
    page.screenshot(path=str(SHOTS / "live-canvas.png"))
    for width, height in ((1280, 800), (1920, 1080)):  # for review at the smallest and a large size, opened there
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        page.get_by_label("Instance status").get_by_text("complete").wait_for()
        settled(page)
        page.locator('.live-canvas[data-fitted="1"]').wait_for()
        settled(page)
        page.screenshot(path=str(SHOTS / f"live-canvas-{width}.png"))
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        # Opened readable, as the editor opens a graph: never below 0.75, scrolled to the trigger.
        zoom = page.evaluate("() => new DOMMatrix(getComputedStyle(document.querySelector('.live-canvas .react-flow__viewport')).transform).a")
        assert 0.75 <= zoom <= 1, zoom
        canvas = page.locator(".live-canvas .react-flow").bounding_box()
        trigger = page.locator('.react-flow__node[data-id="start"]').bounding_box()
        assert canvas["x"] <= trigger["x"] and trigger["x"] + trigger["width"] <= canvas["x"] + canvas["width"]
    page.set_viewport_size({"width": 1600, "height": 900})
    timeline = page.get_by_role("region", name="Timeline")
    assert timeline.locator("[data-step]").count() == 5  # prepare, reserve, cool_off, manager, ship
    timeline.screenshot(path=str(SHOTS / "live-timeline.png"))
    inst = Instance.objects.get(pk=instance_id)
    assert inst.status == "complete" and json.loads(inst.output)["ship"]["by"] == "ed"

    # The workflow's instances, updated live; a failing one opened from the list and inspected.
    page.goto(f"{stack['url']}/editor/w/{wf.pk}/instances")
    page.locator(f'tr[data-instance="{instance_id}"]').get_by_text("complete").wait_for()
    page.get_by_label("Connection").get_by_text("live").wait_for()
    failing = services.instance_create(tenant=tenant, workflow=wf, params={"n": -1, "warehouse": stack["warehouse"]})
    row = page.locator(f'tr[data-instance="{failing.pk}"]')
    wait_for(lambda: Instance.objects.get(pk=failing.pk).status == "errored", timeout=30, what="the failing instance to fail")
    row.get_by_text("errored").wait_for(timeout=10000)  # the row came in, and changed, live
    row.click()
    page.wait_for_url(f"**/i/{failing.pk}")
    wait_state(page, "prepare", "failed")
    wait_state(page, "reserve", "skipped")
    page.locator('.react-flow__node[data-id="prepare"]').click()
    inspector = page.get_by_role("region", name="Step prepare")
    inspector.get_by_role("group", name="Error").get_by_text("n must be positive").wait_for()
    # Where the code node threw, in the graph's terms (never the compiled program's `program:L:C`).
    frames = inspector.locator(".stack").inner_text()
    assert "(node prepare, code line 1" in frames and "program:" not in frames
    page.screenshot(path=str(SHOTS / "live-failed-step.png"))

    # Publish v2 with reserve changed, then restart the failed instance on it from the list, after
    # the plan shows which of its v1 checkpoints stay valid (the builder's version diff).
    v2 = json.loads(json.dumps(GRAPH))
    v2["nodes"][2]["data"]["retries"]["limit"] = 2
    version_create_from_graph(workflow=wf, graph=v2, publish=True)
    page.goto(f"{stack['url']}/editor/w/{wf.pk}/instances")
    page.get_by_role("button", name="Restart failed on v2…").click()
    plan = page.get_by_role("region", name="Restart failed instances")
    plan.get_by_text("Restart 1 failed instance(s) on version 2").wait_for()
    from_v1 = plan.locator(".diff")
    assert "From v1 (1 instance(s))" in from_v1.inner_text()
    assert from_v1.locator("code.valid").all_inner_texts() == ["prepare", "start"]
    assert from_v1.locator("code.changed").all_inner_texts() == ["reserve"]
    page.screenshot(path=str(SHOTS / "live-restart-failed-plan.png"))
    plan.get_by_role("button", name="Restart 1").click()
    page.get_by_role("status").get_by_text("Restarted 1 instance(s) on v2").wait_for()
    assert Instance.objects.get(pk=failing.pk).version.number == 2

    # Pause, resume, send an event, terminate, and restart from a chosen node, from the live view.
    third = services.instance_create(tenant=tenant, workflow=wf, params={"n": 1, "warehouse": stack["warehouse"]})
    page.goto(f"{stack['url']}/editor/i/{third.pk}")
    wait_state(page, "cool_off", "sleeping")
    page.get_by_role("button", name="Pause").click()
    page.get_by_label("Instance status").get_by_text("paused").wait_for()
    page.get_by_role("button", name="Resume").click()
    page.get_by_label("Instance status").get_by_text("waiting").wait_for()
    page.get_by_label("Event type").fill("note")
    page.get_by_label("Event payload").fill('{"text": "hello"}')
    sends = []  # every request that could send the event, answered before the inbox is read
    page.on("request", lambda r: sends.append(r) if r.method == "POST" and r.url.endswith("/events") else None)
    page.get_by_role("button", name="Send").dblclick()  # sent once
    page.get_by_role("status").get_by_text("Send note: done").wait_for()
    settled(page)
    for request in sends:
        request.response()
    assert len(sends) == 1, [r.url for r in sends]
    assert third.events.get().payload == {"text": "hello"}
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Terminate").click()
    page.get_by_label("Instance status").get_by_text("terminated").wait_for()
    wait_state(page, "manager", "skipped")
    page.locator('.react-flow__node[data-id="reserve"]').click()
    page.get_by_role("button", name="Restart from reserve").click()
    page.get_by_label("Instance status").get_by_text("waiting").wait_for()  # it was terminated: this is the rerun
    wait_state(page, "cool_off", "sleeping")  # reserve ran again (prepare kept its checkpoint)
    assert "attempts" not in state_of(page, "reserve").inner_text()  # one attempt this time
    steps = list(Instance.objects.get(pk=third.pk).steps.order_by("pk").values_list("name", "attempts"))
    assert steps[:2] == [("prepare", 1), ("reserve", 1)]

    # A code-first workflow has no graph: it is drawn as its program's diagram (code/diagram.ts), each step with its state.
    from builder.services import version_create_from_code

    coded = workflow_create(tenant=tenant, slug="coded")
    version_create_from_code(workflow=coded, program="export default async function run(e, step) {\n"
                             "  const a = await step.do('fetch', () => 1);\n  await step.sleep('pause', '1 second');\n"
                             "  return await step.do('total', () => a + 1);\n}")
    coded.refresh_from_db()
    run = services.instance_create(tenant=tenant, workflow=coded)
    page.goto(f"{stack['url']}/editor/i/{run.pk}")
    page.locator('.program-diagram .live-node[aria-label^="total:"][data-state="succeeded"]').wait_for()
    assert page.locator('.program-diagram .live-node[aria-label^="pause:"]').get_attribute("data-state") == "succeeded"
    settled(page)
    page.locator(".react-flow__edge.taken").nth(2).wait_for(state="attached")  # edges come once the nodes are measured
    assert page.locator(".react-flow__edge.taken").count() == 3  # start -> fetch -> pause -> total
