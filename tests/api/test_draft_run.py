"""The editor's Run: an instance of the saved draft on an unpublished version."""
import json

import pytest

from engine.models import Instance

pytestmark = pytest.mark.django_db


def graph(code: str) -> dict:
    return {"nodes": [{"id": "start", "type": "manual", "position": {"x": 0, "y": 0}, "data": {}},
                      {"id": "double", "type": "code", "position": {"x": 200, "y": 0}, "data": {"code": code}}],
            "edges": [{"id": "e1", "source": "start", "target": "double"}]}


def test_run_draft_without_publishing_it(api, tenant, drive):
    wf = api.post("/workflows", {"slug": "doubler", "draft": graph("return input.n * 2;")}).data
    api.post(f"/workflows/{wf['id']}/versions", {"graph": graph("return 0;"), "publish": True})

    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 21}})
    assert r.status_code == 201 and r.data["version"] == 2
    drive()
    instance = Instance.objects.get(pk=r.data["id"])
    assert instance.status == "complete" and json.loads(instance.output) == 42
    assert api.get(f"/workflows/{wf['id']}").data["published_version"] == 1  # the live version is untouched
    versions = api.get(f"/workflows/{wf['id']}/versions").data
    assert [(v["number"], v["published"]) for v in versions] == [(2, False), (1, True)]

    # An unchanged draft reuses its version; a changed one gets a new one.
    assert api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 1}}).data["version"] == 2
    api.patch(f"/workflows/{wf['id']}", {"draft": graph("return input.n * 3;")})
    assert api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"n": 1}}).data["version"] == 3


def test_an_invalid_draft_is_refused_with_its_problems(api):
    wf = api.post("/workflows", {"slug": "broken", "draft": {"nodes": [], "edges": []}}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {})
    assert r.status_code == 422
    assert any(p["code"] == "no_trigger" for p in r.data["error"]["problems"])


def test_viewers_cannot_run_drafts(api, viewer_api):
    wf = api.post("/workflows", {"slug": "doubler", "draft": graph("return 1;")}).data
    assert viewer_api.post(f"/workflows/{wf['id']}/draft/instances", {}).status_code == 403
    assert viewer_api.post(f"/workflows/{wf['id']}/draft/version", {}).status_code == 403


def test_save_makes_the_draft_a_version_once(api, tenant):
    """The editor's Save: the draft becomes a version (unpublished) when it compiles; saving it
    unchanged returns the same version; an invalid draft stays saved and answers its problems."""
    wf = api.post("/workflows", {"slug": "saved", "draft": graph("return 1;")}).data
    r = api.post(f"/workflows/{wf['id']}/draft/version", {})
    assert r.status_code == 200 and r.data["number"] == 1 and not r.data["published"]
    assert api.post(f"/workflows/{wf['id']}/draft/version", {}).data["number"] == 1
    api.patch(f"/workflows/{wf['id']}", {"draft": graph("return 2;")})
    assert api.post(f"/workflows/{wf['id']}/draft/version", {}).data["number"] == 2
    assert api.get(f"/workflows/{wf['id']}").data["published_version"] is None

    api.patch(f"/workflows/{wf['id']}", {"draft": {"nodes": [], "edges": []}})
    r = api.post(f"/workflows/{wf['id']}/draft/version", {})
    assert r.status_code == 422 and any(p["code"] == "no_trigger" for p in r.data["error"]["problems"])
    assert api.get(f"/workflows/{wf['id']}").data["draft"] == {"nodes": [], "edges": []}
    assert [v["number"] for v in api.get(f"/workflows/{wf['id']}/versions").data] == [2, 1]


def webhook_graph(code: str) -> dict:
    return {"nodes": [{"id": "hook", "type": "webhook", "position": {"x": 0, "y": 0}, "data": {"auth": "none"}},
                      {"id": "total", "type": "code", "position": {"x": 200, "y": 0}, "data": {"code": code}}],
            "edges": [{"id": "e1", "source": "hook", "target": "total"}]}


def test_a_webhook_test_run_gets_a_delivery_like_a_real_one(api, drive):
    # Code written for production deliveries ({method, headers, query, body}) works in a test run.
    wf = api.post("/workflows", {"slug": "hooked", "draft": webhook_graph(
        "return [input.method, input.headers['content-type'], input.query, input.body.amount];")}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": {"amount": 7}})
    drive()
    assert json.loads(Instance.objects.get(pk=r.data["id"]).output) == ["POST", "application/json", {}, 7]

    # A captured delivery is passed as it came (the editor's "listen for a test event").
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"params": None, "delivery": {
        "method": "PUT", "headers": {"Content-Type": "text/plain"}, "query": {"a": "1"}, "body": {"amount": 9}}})
    drive()
    assert json.loads(Instance.objects.get(pk=r.data["id"]).output) == ["PUT", "text/plain", {"a": "1"}, 9]


def test_a_workflow_is_created_by_name_with_a_derived_slug(api):
    r = api.post("/workflows", {"name": "First Flow"})
    assert r.status_code == 201 and (r.data["slug"], r.data["name"]) == ("first-flow", "First Flow")
    assert api.post("/workflows", {"name": "First Flow"}).status_code == 409
    r = api.post("/workflows", {"name": "!!!"})
    assert r.status_code == 422 and r.data["error"]["field"] == "name"


def chain() -> dict:
    """start -> fetch -> total -> notify: `fetch` fails if it runs, `notify` after the stop must not run."""
    nodes = [("start", "manual", {}), ("fetch", "code", {"code": "throw new NonRetryableError('fetch ran');"}),
             ("total", "code", {"code": "return { total: input.price * 2 };"}),
             ("notify", "code", {"code": "throw new NonRetryableError('notify ran');"})]
    return {"nodes": [{"id": i, "type": t, "position": {"x": 200 * k, "y": 0}, "data": d} for k, (i, t, d) in enumerate(nodes)],
            "edges": [{"id": f"e{k}", "source": a, "target": b} for k, (a, b) in enumerate([("start", "fetch"), ("fetch", "total"), ("total", "notify")])]}


def steps_of(instance_id):
    from engine.models import StepRecord

    return {r.name: (r.status, r.attempts) for r in StepRecord.objects.filter(instance_id=instance_id)}


def test_testing_one_node_uses_the_given_upstream_data_and_stops_after_it(api, drive):
    wf = api.post("/workflows", {"slug": "chain", "draft": chain()}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"seeds": {"fetch": {"price": 21}}, "stop_after": "total"})
    assert r.status_code == 201
    drive()
    instance = Instance.objects.get(pk=r.data["id"])
    assert (instance.status, json.loads(instance.output), instance.test) == ("complete", {"total": 42}, True)
    assert steps_of(instance.pk) == {"fetch": ("complete", 0), "total": ("complete", 1)}  # notify never ran


def test_pinned_data_is_used_in_every_test_run_but_not_for_the_node_tested(api, drive):
    wf = api.post("/workflows", {"slug": "pinned", "draft": chain()}).data
    r = api.put(f"/workflows/{wf['id']}/pins/fetch", {"output": {"price": 5}})
    assert r.status_code == 200 and r.data["pins"] == {"fetch": {"price": 5}}
    assert api.get(f"/workflows/{wf['id']}").data["pins"] == {"fetch": {"price": 5}}
    api.put(f"/workflows/{wf['id']}/pins/notify", {"output": "pinned notify"})
    full = api.post(f"/workflows/{wf['id']}/draft/instances", {}).data  # a whole test run: pins replace both
    up_to = api.post(f"/workflows/{wf['id']}/draft/instances", {"stop_after": "total"}).data  # run up to here
    tested = api.post(f"/workflows/{wf['id']}/draft/instances", {"stop_after": "notify"}).data  # the pinned node itself runs
    drive()
    assert json.loads(Instance.objects.get(pk=full["id"]).output) == "pinned notify"
    assert json.loads(Instance.objects.get(pk=up_to["id"]).output) == {"total": 10}
    assert "notify" not in steps_of(up_to["id"])
    t = Instance.objects.get(pk=tested["id"])
    assert t.status == "errored" and t.error["message"] == "notify ran"
    # Unpinned, the node runs again.
    assert api.delete(f"/workflows/{wf['id']}/pins/fetch").data["pins"] == {"notify": "pinned notify"}
    assert api.delete(f"/workflows/{wf['id']}/pins/fetch").status_code == 422
    again = api.post(f"/workflows/{wf['id']}/draft/instances", {"stop_after": "total"}).data
    drive()
    assert Instance.objects.get(pk=again["id"]).error["message"] == "fetch ran"


def test_pins_and_seeds_are_refused_with_the_node_named(api, tenant):
    from tenants.secrets import secret_put

    secret_put(tenant=tenant, name="TOKEN", value="s3cr3t-value-123")
    wf = api.post("/workflows", {"slug": "refused", "draft": chain()}).data
    for path, body, field, node in [
        ("/pins/start", {"output": 1}, "node_id", None),  # a trigger is not a step: its data is the test payload
        ("/pins/nowhere", {"output": 1}, "node_id", None),
        ("/pins/fetch", {"output": {"token": "s3cr3t-value-123"}}, "pins", "fetch"),
        ("/pins/fetch", {"output": "x" * (1024 * 1024)}, "pins", "fetch"),
    ]:
        r = api.put(f"/workflows/{wf['id']}{path}", body)
        assert r.status_code == 422 and r.data["error"]["field"] == field and r.data["error"].get("node_id") == node, r.data
    for body, field, node in [
        ({"seeds": {"start": 1}}, "seeds", "start"),
        ({"seeds": {"fetch": {"token": "s3cr3t-value-123"}}}, "seeds", "fetch"),
        ({"seeds": ["fetch"]}, "seeds", None),
        ({"stop_after": "nowhere"}, "stop_after", "nowhere"),
    ]:
        r = api.post(f"/workflows/{wf['id']}/draft/instances", body)
        assert r.status_code == 422 and r.data["error"]["field"] == field and r.data["error"].get("node_id") == node, r.data
    assert api.get(f"/workflows/{wf['id']}").data["pins"] == {} and not Instance.objects.exists()


def test_viewers_cannot_pin(api, viewer_api):
    wf = api.post("/workflows", {"slug": "chain", "draft": chain()}).data
    assert viewer_api.put(f"/workflows/{wf['id']}/pins/fetch", {"output": 1}).status_code == 403
    assert viewer_api.delete(f"/workflows/{wf['id']}/pins/fetch").status_code == 403


@pytest.fixture
def loopback(settings):
    """A loopback HTTP server that records the paths it was asked for."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    settings.ENGINE_HTTP_ALLOWED_PRIVATE = ["127.0.0.1"]
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            seen.append(self.path)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"sent": true}')

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_port}", seen
    srv.shutdown()
    srv.server_close()


def fan_out(url: str) -> dict:
    """start -> (price -> total) and, beside it, start -> charge: an HTTP call not upstream of `total`."""
    nodes = [("start", "manual", {}), ("price", "code", {"code": "return { price: 21 };"}),
             ("total", "code", {"code": "return { total: input.price * 2 };"}),
             ("charge", "http", {"url": f"{url}/charge", "method": "POST", "json": {"amount": 1}})]
    return {"nodes": [{"id": i, "type": t, "position": {"x": 200 * k, "y": 0}, "data": d} for k, (i, t, d) in enumerate(nodes)],
            "edges": [{"id": f"e{k}", "source": a, "target": b}
                      for k, (a, b) in enumerate([("start", "price"), ("price", "total"), ("start", "charge")])]}


def test_a_partial_run_does_not_run_a_parallel_branch_that_does_not_lead_to_its_stop(api, drive, loopback):
    url, seen = loopback
    wf = api.post("/workflows", {"slug": "fan", "draft": fan_out(url)}).data
    r = api.post(f"/workflows/{wf['id']}/draft/instances", {"stop_after": "total"})
    assert r.status_code == 201, r.data
    drive()
    instance = Instance.objects.get(pk=r.data["id"])
    assert instance.status == "complete", instance.error
    assert json.loads(instance.output) == {"total": 42}
    assert seen == []  # the charge was parked: never started, its call never made
    assert steps_of(instance.pk) == {"price": ("complete", 1), "total": ("complete", 1)}
    assert sorted(instance.scope) == ["price", "start", "total"]


def test_a_partial_run_stopping_at_the_http_node_makes_its_call_and_a_whole_run_makes_it_too(api, drive, loopback):
    url, seen = loopback
    wf = api.post("/workflows", {"slug": "fan", "draft": fan_out(url)}).data
    tested = api.post(f"/workflows/{wf['id']}/draft/instances", {"stop_after": "charge"}).data
    drive()
    instance = Instance.objects.get(pk=tested["id"])
    assert instance.status == "complete", instance.error
    assert json.loads(instance.output)["json"] == {"sent": True} and seen == ["/charge"]
    assert "total" not in steps_of(instance.pk) and "price" not in steps_of(instance.pk)
    whole = api.post(f"/workflows/{wf['id']}/draft/instances", {}).data
    drive()
    instance = Instance.objects.get(pk=whole["id"])
    assert instance.status == "complete", instance.error
    assert instance.scope is None and seen == ["/charge", "/charge"]
    assert set(steps_of(instance.pk)) == {"price", "total", "charge"}
