"""Webhooks, with signatures made by independent implementations (the standardwebhooks package,
GitHub's and Stripe's documented algorithms)."""
import asyncio
import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import pytest
import standardwebhooks
from asgiref.sync import sync_to_async
from django.test import Client

from engine.models import Instance
from tenants.secrets import secret_put

from tests.builder.helpers import graph, publish

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def hook_workflow(tenant, auth="standard_webhooks", response="immediate", slug="orders", extra=()):
    nodes = [("hook", "webhook", {"auth": auth, "response": response}), ("echo", "code", {"code": "return input.body;"})]
    nodes += list(extra)
    edges = [("hook", "echo")] + ([("echo", "answer")] if extra else [])
    return publish(tenant, graph(nodes, edges), slug=slug)


def post(path, body: bytes, content_type="application/json", **headers):
    meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    return Client().post(path, data=body, content_type=content_type, **meta)


def standard_headers(body: bytes, secret=SECRET, msg_id="msg_1", at=None):
    at = at or datetime.now(tz=timezone.utc)
    signature = standardwebhooks.Webhook(secret).sign(msg_id, at, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


@pytest.fixture
def signed(tenant):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    return hook_workflow(tenant)


def test_a_signed_delivery_starts_an_instance(tenant, signed, drive):
    body = json.dumps({"order": 7}).encode()
    r = post("/hooks/acme/orders", body, **standard_headers(body))
    assert r.status_code == 202
    inst = Instance.objects.get(pk=r.json()["instance"])
    assert r.json()["status_url"] == f"/api/v1/instances/{inst.pk}"
    assert inst.params["body"] == {"order": 7} and inst.params["method"] == "POST"
    assert "webhook-signature" not in inst.params["headers"]
    drive()
    assert json.loads(Instance.objects.get(pk=inst.pk).output) == {"order": 7}


@pytest.mark.parametrize("case", ["wrong_secret", "tampered", "stale", "future", "missing", "garbled"])
def test_bad_signatures_answer_401(tenant, signed, case):
    body = b'{"order": 7}'
    now = datetime.now(tz=timezone.utc)
    headers = {
        "wrong_secret": lambda: standard_headers(body, secret="whsec_" + base64.b64encode(b"x" * 32).decode()),
        "tampered": lambda: standard_headers(b'{"order": 8}'),
        "stale": lambda: standard_headers(body, at=datetime.fromtimestamp(now.timestamp() - 600, tz=timezone.utc)),
        "future": lambda: standard_headers(body, at=datetime.fromtimestamp(now.timestamp() + 600, tz=timezone.utc)),
        "missing": lambda: {"webhook-id": "m"},
        "garbled": lambda: {"webhook-id": "m", "webhook-timestamp": "soon", "webhook-signature": "v1,%%%"},
    }[case]()
    r = post("/hooks/acme/orders", body, **headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert Instance.objects.count() == 0


def test_a_retried_delivery_returns_the_same_instance(tenant, signed):
    body = b'{"order": 1}'
    headers = standard_headers(body, msg_id="msg_dup")
    ids = {post("/hooks/acme/orders", body, **headers).json()["instance"] for _ in range(5)}
    assert len(ids) == 1 and Instance.objects.count() == 1


def test_github_and_stripe_presets(tenant):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value="gh-secret")
    hook_workflow(tenant, auth="github", slug="gh")
    hook_workflow(tenant, auth="stripe", slug="stripe")
    body = b'{"action": "opened", "id": "evt_1"}'
    sig = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    ok = post("/hooks/acme/gh", body, **{"X-Hub-Signature-256": sig, "X-GitHub-Delivery": "d1"})
    assert ok.status_code == 202
    assert post("/hooks/acme/gh", body, **{"X-Hub-Signature-256": sig, "X-GitHub-Delivery": "d1"}).json() == ok.json()
    assert post("/hooks/acme/gh", body + b" ", **{"X-Hub-Signature-256": sig}).status_code == 401
    t = str(int(time.time()))
    v1 = hmac.new(b"gh-secret", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert post("/hooks/acme/stripe", body, **{"Stripe-Signature": f"t={t},v1=bad,v1={v1}"}).status_code == 202
    old = str(int(time.time()) - 1000)
    v1_old = hmac.new(b"gh-secret", f"{old}.".encode() + body, hashlib.sha256).hexdigest()
    assert post("/hooks/acme/stripe", body, **{"Stripe-Signature": f"t={old},v1={v1_old}"}).status_code == 401


def test_bearer_and_explicit_none(tenant):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value="tok")
    hook_workflow(tenant, auth="bearer", slug="bearer")
    hook_workflow(tenant, auth="none", slug="open")
    assert post("/hooks/acme/bearer", b"{}", Authorization="Bearer tok").status_code == 202
    assert post("/hooks/acme/bearer", b"{}", Authorization="Bearer nope").status_code == 401
    assert post("/hooks/acme/open", b"{}").status_code == 202


def test_unknown_unpublished_suspended_oversized_and_unparseable(tenant, signed):
    assert post("/hooks/acme/nope", b"{}").status_code == 404
    assert post("/hooks/nobody/orders", b"{}").status_code == 404
    assert post("/hooks/acme/orders", b"x" * (1024 * 1024 + 1), content_type="text/plain").status_code == 413
    body = b'{"broken": '
    assert post("/hooks/acme/orders", body, **standard_headers(body, msg_id="b1")).status_code == 400
    raw = b"\xff\xfe"
    r = post("/hooks/acme/orders", raw, content_type="text/plain", **{
        "webhook-id": "b2", "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1," + base64.b64encode(hmac.new(base64.b64decode(SECRET[6:]), b"b2." + str(int(time.time())).encode() + b"." + raw, hashlib.sha256).digest()).decode()})
    # The Standard Webhooks library verifies text payloads only: a signed non-UTF-8 body is refused
    # as unverifiable (the 415 path is test_webhook_schemes.test_a_body_that_is_not_utf8_answers_415).
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    from triggers import webhooks

    tenant.status = "suspended"
    tenant.save()
    webhooks._targets.clear()  # (a running server sees it within TARGET_TTL)
    assert post("/hooks/acme/orders", b"{}").status_code == 423


def test_rate_limit_answers_429_with_retry_after(tenant, clock):
    tenant.limits = {"webhook_calls_per_minute": 2}
    tenant.save()
    hook_workflow(tenant, auth="none", slug="open")
    codes = [post("/hooks/acme/open", b"{}").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    clock.advance(seconds=45)
    r = post("/hooks/acme/open", b"{}")
    assert r.status_code == 429 and r["Retry-After"] == "15"  # the window is the engine clock's minute
    clock.advance(seconds=15)
    assert post("/hooks/acme/open", b"{}").status_code == 202


def test_wait_mode_answers_with_the_respond_node(tenant, settings):
    from engine import worker

    respond = ("answer", "respond", {"status": 201, "headers": {"x-order": "{{ input.id }}"}, "body": {"seen": "{{ input.id }}"}})
    hook_workflow(tenant, auth="none", response="wait", slug="sync", extra=[respond])
    settings.WEBHOOK_WAIT_SECONDS = 60  # answered as soon as the respond node is done; the bound is for slow CI
    # The worker runs in this process: the respond wait loop drives it between its polls.
    from triggers import webhooks

    async def run_worker():
        await sync_to_async(worker.run)(name="w", until_idle=True)  # on this thread, with its connection

    original = webhooks.pause
    webhooks.pause = run_worker
    try:
        r = post("/hooks/acme/sync", b'{"id": 9}')
    finally:
        webhooks.pause = original
    assert r.status_code == 201 and r.json() == {"seen": 9} and r["x-order"] == "9"


def test_a_respond_committed_with_the_end_between_two_reads_is_not_missed(tenant, monkeypatch):
    """The worker commits the respond step and the instance's end together; if that commit falls
    between the wait's two reads, the wait still answers with the respond node (never a 202)."""
    from engine import worker
    from triggers import webhooks

    respond = ("answer", "respond", {"status": 201, "body": {"seen": "{{ input.id }}"}})
    hook_workflow(tenant, auth="none", response="wait", slug="sync", extra=[respond])
    answer = webhooks.deliver(webhooks.Delivery("POST", {"content-type": "application/json"}, {}, b'{"id": 7}'), "acme", "sync")
    read_output = webhooks.completed_output

    def output_then_commit(**kwargs):
        seen = read_output(**kwargs)
        worker.run(name="w", until_idle=True)  # the commit lands right after this read
        return seen

    monkeypatch.setattr(webhooks, "completed_output", output_then_commit)
    answers = [webhooks.respond_check(*answer.wait_for) for _ in range(2)]
    assert (True, None) not in answers and answers[-1][1]["body"] == {"seen": 7}


def test_events_by_webhook_reach_a_waiting_instance(tenant, drive):
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value="tok")
    g = graph([("hook", "webhook", {"auth": "bearer"}), ("paid", "wait_event", {"type": "payment"})], [("hook", "paid")])
    publish(tenant, g, slug="pay")
    r = post("/hooks/acme/pay", b'{"order": 1}', Authorization="Bearer tok")
    drive()
    iid = r.json()["instance"]
    assert post(f"/hooks/acme/pay/events/{iid}/payment", b'{"amount": 5}', Authorization="Bearer nope").status_code == 401
    assert post(f"/hooks/acme/pay/events/{iid}/payment", b'{"amount": 5}', Authorization="Bearer tok").status_code == 202
    drive()
    inst = Instance.objects.get(pk=iid)
    assert inst.status == "complete" and json.loads(inst.output)["payload"] == {"amount": 5}


def asgi_post(path: str, body: bytes, headers: dict | None = None, length: int | None = None):
    """Call the ASGI application (as daphne does) and return (status, json body, headers)."""
    from config.asgi import application

    sent = []
    chunks = [body]

    async def receive():
        return {"type": "http.request", "body": chunks.pop(0) if chunks else b"", "more_body": False}

    async def send(message):
        sent.append(message)

    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body) if length is None else length).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"", "headers": raw}
    asyncio.run(application(scope, receive, send))
    start = sent[0]
    return start["status"], json.loads(sent[1]["body"]), dict(start["headers"])


def test_the_asgi_route_answers_like_the_view(tenant, signed, transactional_db):
    body = json.dumps({"order": 3}).encode()
    status, answer, _ = asgi_post("/hooks/acme/orders", body, standard_headers(body, msg_id="asgi-1"))
    assert status == 202 and Instance.objects.get(pk=answer["instance"]).params["body"] == {"order": 3}
    assert asgi_post("/hooks/acme/orders", body, standard_headers(body, msg_id="asgi-1"))[1] == answer  # dedup
    assert asgi_post("/hooks/acme/orders", body, {"webhook-id": "x"})[0] == 401
    assert asgi_post("/hooks/acme/nope", b"{}")[0] == 404


def test_the_asgi_route_answers_413_before_reading(db):
    status, answer, _ = asgi_post("/hooks/a/b", b"", length=2 * 1024 * 1024)
    assert status == 413 and answer["error"]["code"] == "too_large"


def test_the_asgi_route_waits_for_the_respond_node_without_blocking(tenant, transactional_db, settings):
    """A waiting delivery does not hold the delivery thread: another hook is answered meanwhile."""
    from asgiref.sync import sync_to_async

    from config.asgi import application
    from engine import worker

    respond = ("answer", "respond", {"status": 201, "body": {"seen": "{{ input.id }}"}})
    hook_workflow(tenant, auth="none", response="wait", slug="sync", extra=[respond])
    hook_workflow(tenant, auth="none", slug="quick")
    settings.WEBHOOK_WAIT_SECONDS = 60  # answered as soon as the respond node is done; the bound is for slow CI

    async def call(path, body):
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
        await application(scope, receive, send)
        return sent[0]["status"], json.loads(sent[1]["body"])

    async def scenario():
        waiting = asyncio.ensure_future(call("/hooks/acme/sync", b'{"id": 5}'))
        created = sync_to_async(lambda: Instance.objects.filter(workflow__slug="sync").exists(), thread_sensitive=False)
        for _ in range(200):  # until the first delivery is committed (not a fixed sleep: CI may be slow)
            if await created():
                break
            await asyncio.sleep(0.025)
        quick = await call("/hooks/acme/quick", b"{}")  # answered while the first one waits
        assert quick[0] == 202 and not waiting.done()
        await sync_to_async(lambda: worker.run(name="w", until_idle=True), thread_sensitive=False)()
        return await waiting

    assert asyncio.run(scenario()) == (201, {"seen": 5})


def test_deliveries_committed_together_each_get_their_own_answer(tenant, signed):
    """The ASGI route's committer creates a batch's instances in one insert per workflow; each
    delivery is still answered on its own: repeats share an instance, refusals refuse only
    themselves, and a creation quota reached mid-batch admits exactly the quota."""
    from django.db import transaction

    from triggers.hooks_asgi import GroupCommit
    from triggers.webhooks import Delivery

    hook_workflow(tenant, auth="none", slug="open")

    def delivery(body: bytes, headers: dict) -> Delivery:
        return Delivery(method="POST", headers={"content-type": "application/json", **headers}, query={}, body=body)

    batch = []
    for n in range(30):
        body = json.dumps({"n": n}).encode()
        batch.append(("delivery", ("acme", "orders", ""), delivery(body, standard_headers(body, msg_id=f"m-{n}"))))
    repeat = json.dumps({"n": 0}).encode()
    batch += [("delivery", ("acme", "orders", ""), delivery(repeat, standard_headers(repeat, msg_id="m-0")))] * 3
    batch.append(("delivery", ("acme", "orders", ""), delivery(b"{}", {"webhook-id": "forged"})))
    batch.append(("delivery", ("acme", "open", ""), delivery(b"not json", {})))
    batch += [("delivery", ("acme", "open", ""), delivery(b"{}", {})) for _ in range(5)]
    with transaction.atomic():
        answers = GroupCommit.write([(*item, None, None) for item in batch])
    assert [a.status for a in answers] == [202] * 33 + [401, 400] + [202] * 5
    assert len({a.body["instance"] for a in answers[:30]}) == 30
    assert {a.body["instance"] for a in answers[30:33]} == {answers[0].body["instance"]}
    assert Instance.objects.filter(workflow__slug="orders").count() == 30
    assert Instance.objects.filter(workflow__slug="open").count() == 5

    tenant.limits = {"creations_per_minute": 45}  # 35 used above: 10 more fit
    tenant.save()
    from triggers import webhooks
    webhooks._targets.clear()
    with transaction.atomic():
        answers = GroupCommit.write([("delivery", ("acme", "open", ""), delivery(b"{}", {}), None, None) for _ in range(15)])
    assert [a.status for a in answers] == [202] * 10 + [429] * 5
    assert answers[-1].headers["Retry-After"]
    assert Instance.objects.filter(workflow__slug="open").count() == 15


def test_a_test_delivery_is_captured_only_while_the_editor_listens(api, tenant, drive):
    from builder.services import workflow_create
    from triggers.services import draft_instance_create

    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    draft = graph([("hook", "webhook", {}), ("echo", "code", {"code": "return input;"})], [("hook", "echo")])
    wf = workflow_create(tenant=tenant, slug="listened", draft=draft)  # never published: the draft's trigger checks
    url = f"/hooks-test/{tenant.slug}/listened"
    body = json.dumps({"amount": 3}).encode()
    assert post(url, body, **standard_headers(body)).status_code == 404  # nobody listens
    state = api.post(f"/workflows/{wf.pk}/test-delivery", {}).data
    assert (state["state"], state["url"]) == ("listening", url)
    assert post(url, body, **standard_headers(body, secret="whsec_" + "A" * 43)).status_code == 401  # signed like real ones
    assert api.get(f"/workflows/{wf.pk}/test-delivery").data["state"] == "listening"
    assert post(url, body, **standard_headers(body)).status_code == 202
    captured = api.get(f"/workflows/{wf.pk}/test-delivery").data
    assert captured["state"] == "captured" and captured["delivery"]["body"] == {"amount": 3}
    assert "webhook-signature" not in captured["delivery"]["headers"] and captured["delivery"]["headers"]["webhook-id"] == "msg_1"
    assert not Instance.objects.filter(workflow=wf).exists()  # a capture starts nothing
    assert post(url, body, **standard_headers(body)).status_code == 404  # one delivery per listen
    # The editor's Run then starts the draft with it.
    instance = draft_instance_create(tenant=tenant, workflow=wf, delivery=captured["delivery"])
    drive()
    instance.refresh_from_db()
    assert json.loads(instance.output)["body"] == {"amount": 3}


def test_another_tenants_workflow_cannot_be_listened_to(api, other_tenant):
    from builder.services import workflow_create

    wf = workflow_create(tenant=other_tenant, slug="theirs", draft={"nodes": [], "edges": []})
    assert api.post(f"/workflows/{wf.pk}/test-delivery", {}).status_code == 404
    assert api.get(f"/workflows/{wf.pk}/test-delivery").status_code == 404


def test_a_test_delivery_reaches_only_the_listening_tenants_workflow(tenant, other_tenant):
    """Another tenant listening on a workflow of the same slug: a test delivery under this tenant's
    address answers 404 and captures nothing there; one signed with this tenant's secret is refused."""
    from builder.services import workflow_create
    from triggers.test_deliveries import listen_start, listen_state

    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    secret_put(tenant=other_tenant, name="WEBHOOK_SECRET", value="whsec_" + base64.b64encode(b"k" * 32).decode())
    draft = graph([("hook", "webhook", {}), ("echo", "code", {"code": "return input;"})], [("hook", "echo")])
    theirs = workflow_create(tenant=other_tenant, slug="listened", draft=draft)
    listen_start(workflow=theirs)
    body = json.dumps({"amount": 3}).encode()
    assert post(f"/hooks-test/{tenant.slug}/listened", body, **standard_headers(body)).status_code == 404
    assert post(f"/hooks-test/{other_tenant.slug}/listened", body, **standard_headers(body)).status_code == 401
    assert listen_state(workflow=theirs)["state"] == "listening"


@pytest.mark.parametrize("path, expected", [
    ("/hooks/acme/orders", ("delivery", ("acme", "orders", ""))),
    ("/hooks/acme/orders/eu/paid", ("delivery", ("acme", "orders", "eu/paid"))),
    ("/hooks/acme/orders/events/4f1c/paid", ("event", ("acme", "orders", "4f1c", "paid"))),
    ("/hooks/acme/orders/events/4f1c", ("delivery", ("acme", "orders", "events/4f1c"))),
    ("/hooks/acme/orders/events/4f1c/paid/more", ("delivery", ("acme", "orders", "events/4f1c/paid/more"))),
    ("/hooks/acme/orders/evts/4f1c/paid", ("delivery", ("acme", "orders", "evts/4f1c/paid"))),
    ("/hooks/acme", None),
    ("/hooks/acme/", None),
    ("/hooks//orders", None),
])
def test_hook_addresses_split_alike_in_the_raw_route_and_the_django_urls(path, expected):
    """The raw ASGI route (daphne's fast path for /hooks/) splits an address as the Django URLs do."""
    from django.urls import Resolver404, resolve

    from triggers import webhooks

    assert webhooks.route(path) == expected
    try:
        match = resolve(path)
    except Resolver404:
        match = None
    if expected is None:
        assert match is None
    elif match.url_name == "webhook-event":
        assert expected == ("event", tuple(match.kwargs[k] for k in ("tenant", "workflow", "instance", "type")))
    else:
        assert expected == ("delivery", (match.kwargs["tenant"], match.kwargs["workflow"], match.kwargs.get("path", "")))
