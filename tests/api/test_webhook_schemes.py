"""Every webhook auth scheme refuses tampered, stale, future, missing and wrongly keyed deliveries
(signatures made by the schemes' documented algorithms, times from the injected clock), events
reach only the instances of the hook's own workflow, and the failure answers are pinned exactly."""
import asyncio
import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone

import pytest
import standardwebhooks

from engine.models import Event, Instance
from tenants.secrets import secret_put
from tests.builder.helpers import graph, publish

from .test_webhooks import SECRET, hook_workflow, post

STRIPE_SECRET = "whsec_stripe_test"
GITHUB_SECRET = "gh-secret"
BODY = b'{"id": "evt_1", "order": 7}'


@pytest.fixture
def hooks(tenant, clock):
    clock.set(datetime.now(tz=timezone.utc).replace(microsecond=0))  # what the signing libraries read
    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    secret_put(tenant=tenant, name="GH", value=GITHUB_SECRET)
    secret_put(tenant=tenant, name="STRIPE", value=STRIPE_SECRET)
    secret_put(tenant=tenant, name="TOKEN", value="tok-123")
    for slug, auth, secret in [("std", "standard_webhooks", None), ("gh", "github", "GH"), ("stripe", "stripe", "STRIPE"),
                               ("bearer", "bearer", "TOKEN")]:
        data = {"auth": auth, **({"secret_name": secret} if secret else {})}
        publish(tenant, graph([("hook", "webhook", data), ("echo", "code", {"code": "return input.body;"})],
                              [("hook", "echo")]), slug=slug)
    return clock


def stripe_header(at: int, body: bytes = BODY, secret: str = STRIPE_SECRET) -> str:
    return f"t={at},v1=" + hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def github_header(body: bytes = BODY, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard(at: float, body: bytes = BODY, secret: str = SECRET, msg_id: str = "msg_1") -> dict:
    sig = standardwebhooks.Webhook(secret).sign(msg_id, datetime.fromtimestamp(at, tz=timezone.utc), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at)), "webhook-signature": sig}


def cases(now: float) -> dict[str, dict[str, tuple[bytes, dict]]]:
    """scheme -> case -> (body, headers). "ok" must pass; every other case must answer 401."""
    t = int(now)
    return {
        "std": {
            "ok": (BODY, standard(now)),
            "tampered": (BODY + b" ", standard(now)),
            # The standardwebhooks library reads the machine's clock, not the engine's: margins
            # well past its 5 minutes, so a slow test cannot move the boundary.
            "stale": (BODY, standard(now - 420)),
            "future": (BODY, standard(now + 420)),
            "missing": (BODY, {"webhook-id": "m"}),
            "wrong_secret": (BODY, standard(now, secret="whsec_" + base64.b64encode(b"y" * 32).decode())),
        },
        "gh": {
            "ok": (BODY, {"X-Hub-Signature-256": github_header(), "X-GitHub-Delivery": "d1"}),
            "tampered": (BODY + b" ", {"X-Hub-Signature-256": github_header()}),
            "missing": (BODY, {"X-GitHub-Delivery": "d2"}),
            "wrong_secret": (BODY, {"X-Hub-Signature-256": github_header(secret="other")}),
            "sha1_only": (BODY, {"X-Hub-Signature": "sha1=" + hmac.new(GITHUB_SECRET.encode(), BODY, hashlib.sha1).hexdigest()}),
        },
        "stripe": {
            "ok": (BODY, {"Stripe-Signature": stripe_header(t)}),
            "ok_within_tolerance": (BODY, {"Stripe-Signature": stripe_header(t + 299)}),
            "tampered": (BODY + b" ", {"Stripe-Signature": stripe_header(t)}),
            "stale": (BODY, {"Stripe-Signature": stripe_header(t - 301)}),
            "future": (BODY, {"Stripe-Signature": stripe_header(t + 301)}),
            "far_future": (BODY, {"Stripe-Signature": stripe_header(t + 3600)}),
            "missing": (BODY, {}),
            "no_timestamp": (BODY, {"Stripe-Signature": stripe_header(t).split(",", 1)[1]}),
            "wrong_secret": (BODY, {"Stripe-Signature": stripe_header(t, secret="whsec_other")}),
        },
        "bearer": {
            "ok": (BODY, {"Authorization": "Bearer tok-123"}),
            "wrong": (BODY, {"Authorization": "Bearer tok-124"}),
            "prefix": (BODY, {"Authorization": "Bearer tok-12"}),
            "not_bearer": (BODY, {"Authorization": "Basic tok-123"}),
            "missing": (BODY, {}),
        },
    }


ALL = [(scheme, case) for scheme, by_case in cases(0).items() for case in by_case]


@pytest.mark.parametrize("scheme, case", ALL, ids=[f"{s}-{c}" for s, c in ALL])
def test_each_scheme_accepts_only_a_valid_delivery(hooks, scheme, case):
    body, headers = cases(hooks.now().timestamp())[scheme][case]
    r = post(f"/hooks/acme/{scheme}", body, **headers)
    if case.startswith("ok"):
        assert r.status_code == 202, r.content
        assert Instance.objects.filter(pk=r.json()["instance"], workflow__slug=scheme).exists()
    else:
        assert r.status_code == 401, (r.status_code, r.content)
        assert r.json()["error"]["code"] == "unauthorized"
        assert Instance.objects.count() == 0


def test_stripe_tolerance_follows_the_engine_clock(hooks):
    """The same signed header is accepted while fresh and refused 5 minutes later, in both directions."""
    at = int(hooks.now().timestamp())
    header = {"Stripe-Signature": stripe_header(at)}
    assert post("/hooks/acme/stripe", BODY, **header).status_code == 202
    hooks.advance(seconds=301)
    assert post("/hooks/acme/stripe", BODY, **header).status_code == 401
    hooks.advance(seconds=-602)  # the signature now lies 301 s in the future
    assert post("/hooks/acme/stripe", BODY, **header).status_code == 401




def test_events_reach_only_instances_of_the_hooks_own_workflow(tenant, hooks, drive):
    """A tenant's open hook (auth none) must not inject events into the instances of its signed one."""
    from engine.services import instance_create

    secret_put(tenant=tenant, name="WEBHOOK_SECRET", value=SECRET)
    publish(tenant, graph([("hook", "webhook", {"auth": "none"}), ("x", "code", {"code": "return 1;"})], [("hook", "x")]),
            slug="open")
    signed = publish(tenant, graph([("hook", "webhook", {"auth": "bearer", "secret_name": "TOKEN"}),
                                    ("paid", "wait_event", {"type": "payment"})], [("hook", "paid")]), slug="pay")
    inst = instance_create(tenant=tenant, workflow=signed)
    drive()
    assert Instance.objects.get(pk=inst.pk).status == "waiting"

    r = post(f"/hooks/acme/open/events/{inst.pk}/payment", b'{"amount": 1000000}')
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = post(f"/hooks/acme/pay/events/{inst.pk}/payment", b'{"amount": 5}', Authorization="Bearer tok-124")
    assert r.status_code == 401
    assert not Event.objects.filter(instance_id=inst.pk).exists()

    r = post(f"/hooks/acme/pay/events/{inst.pk}/payment", b'{"amount": 5}', Authorization="Bearer tok-123")
    assert r.status_code == 202
    drive()
    inst.refresh_from_db()
    assert inst.status == "complete" and json.loads(inst.output)["payload"] == {"amount": 5}


def test_events_to_another_tenants_instance_answer_404(tenant, other_tenant, hooks, drive):
    from engine.services import instance_create

    theirs = publish(other_tenant, graph([("hook", "webhook", {"auth": "none"}), ("paid", "wait_event", {"type": "payment"})],
                                         [("hook", "paid")]), slug="pay")
    publish(tenant, graph([("hook", "webhook", {"auth": "none"}), ("x", "code", {"code": "return 1;"})], [("hook", "x")]),
            slug="open")
    inst = instance_create(tenant=other_tenant, workflow=theirs)
    assert post(f"/hooks/acme/open/events/{inst.pk}/payment", b"{}").status_code == 404
    assert post(f"/hooks/acme/pay/events/{inst.pk}/payment", b"{}").status_code == 404  # acme has no "pay"
    assert not Event.objects.exists()


def test_a_body_that_is_not_utf8_answers_415(tenant):
    hook_workflow(tenant, auth="none", slug="open")
    r = post("/hooks/acme/open", b"\xff\xfe", content_type="text/plain")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_body"
    r = post("/hooks/acme/open", b"\xff\xfe", content_type="application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_body"
    assert Instance.objects.count() == 0


def test_the_asgi_route_refuses_an_oversized_body_without_reading_it(db):
    """413 from the Content-Length alone: the request body is never received."""
    from config.asgi import application

    received, sent = [], []

    async def receive():
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/hooks/a/b", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(2 * 1024 * 1024).encode())]}
    asyncio.run(application(scope, receive, send))
    assert sent[0]["status"] == 413 and json.loads(sent[1]["body"])["error"]["code"] == "too_large"
    assert received == []


def test_an_event_delivery_is_verified_over_its_body_and_reaches_only_the_addressed_instance(tenant, hooks, drive):
    """Signed event deliveries: the signature covers the body (a tampered one is refused), the
    event goes to the instance in the URL and no other of the workflow, an id that is not an
    instance's answers 404, and the answer names the event."""
    from engine.services import instance_create

    hook = publish(tenant, graph([("hook", "webhook", {"auth": "standard_webhooks"}),
                                  ("paid", "wait_event", {"type": "payment"})], [("hook", "paid")]), slug="signed-pay")
    first, second = instance_create(tenant=tenant, workflow=hook), instance_create(tenant=tenant, workflow=hook)
    drive()
    now = hooks.now().timestamp()
    body = b'{"amount": 5}'
    url = f"/hooks/acme/signed-pay/events/{second.pk}/payment"
    tampered = post(url, b'{"amount": 500}', **standard(now, body=body, msg_id="ev-1"))
    assert tampered.status_code == 401 and not Event.objects.exists()
    for bad_id in ("not-an-id", "00000000-0000-0000-0000-000000000000"):
        r = post(f"/hooks/acme/signed-pay/events/{bad_id}/payment", body, **standard(now, body=body, msg_id="ev-2"))
        assert r.status_code == 404 and r.json()["error"] == {"code": "not_found", "message": "no such instance"}, r.json()
    r = post(url, body, **standard(now, body=body, msg_id="ev-3"))
    assert r.status_code == 202
    event = Event.objects.get()
    assert r.json() == {"event": event.pk} and event.instance_id == second.pk and event.payload == {"amount": 5}
    drive()
    assert Instance.objects.get(pk=first.pk).status == "waiting"
    assert Instance.objects.get(pk=second.pk).status == "complete"
