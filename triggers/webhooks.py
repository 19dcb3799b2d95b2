"""Webhooks: `POST /hooks/<tenant>/<workflow>[/<path>]` starts the published version's webhook trigger.

Invariants:
- Nothing is started unless the request passes the trigger's auth (Standard Webhooks, GitHub,
  Stripe, bearer token, or none when the trigger says so explicitly); any failure to verify is a 401.
- A delivery id (webhook-id, X-GitHub-Delivery, the Stripe event id, or Idempotency-Key) becomes the
  instance id, so a retried delivery returns the instance the first one created: never two.
- The body limit is enforced before the body is buffered, by one check (body_too_large) that both
  the ASGI app in front of Django under daphne (triggers.hooks_asgi) and the Django view use.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import standardwebhooks
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from engine import clock
from engine.models import Instance
from engine.selectors import completed_output, instance_finished, instance_of_workflow
from engine.services import event_send, instance_create, instance_create_batch
from tenants import quotas
from tenants.errors import DomainError, InvalidInput, NotFound
from tenants.jsonbody import json_loads_checked
from tenants.limits import limits_for
from tenants.models import Tenant
from tenants.secrets import secret_value

from builder.graph import parse
from builder.models import Workflow

log = logging.getLogger(__name__)
STRIPE_TOLERANCE = 300
DROPPED_HEADERS = {"authorization", "cookie", "webhook-signature", "x-hub-signature-256", "x-hub-signature", "stripe-signature"}


class WebhookError(DomainError):
    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__("request", message)
        self.status, self.code, self.retry_after = status, code, retry_after


def unauthorized(message: str = "the request's signature or token is not valid") -> WebhookError:
    return WebhookError(401, "unauthorized", message)


@dataclass
class Target:
    tenant: Tenant
    workflow: Workflow
    trigger: Any  # graph Node of type webhook


_targets: dict[tuple[str, str], tuple[float, "Target | None"]] = {}
TARGET_TTL = 2.0  # seconds a resolved (tenant, workflow, trigger) is reused; publish/suspend apply after it


def target_for(tenant_slug: str, workflow_slug: str, path: str = "") -> Target:
    """The published webhook trigger at this URL. Resolved at most every 2 s per process: the graph
    parse and three reads cost more than the rest of a delivery."""
    cached = _targets.get((tenant_slug, workflow_slug))
    if cached and time.monotonic() - cached[0] < TARGET_TTL:
        target = cached[1]
    else:
        target = _resolve(tenant_slug, workflow_slug)
        if len(_targets) > 10_000:
            _targets.clear()
        _targets[(tenant_slug, workflow_slug)] = (time.monotonic(), target)
    if target is None or (target.trigger.data.get("path") or "").strip("/") != path.strip("/"):
        raise NotFound("workflow", "no published webhook workflow here")
    if target.tenant.status != Tenant.Status.ACTIVE:
        raise WebhookError(423, "tenant_suspended", "the tenant is suspended")
    return target


def _resolve(tenant_slug: str, workflow_slug: str) -> Target | None:
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    workflow = (Workflow.objects.select_related("published_version").filter(tenant=tenant, slug=workflow_slug, archived=False).first()
                if tenant else None)
    version = workflow.published_version if workflow else None
    trigger = None
    if version and version.graph:
        trigger = next((n for n in parse(version.graph).nodes.values() if n.type == "webhook"), None)
    return Target(tenant=tenant, workflow=workflow, trigger=trigger) if trigger else None


def check_rate(tenant: Tenant) -> None:
    """Webhook calls per minute, per tenant (a cache counter: losing it only loosens the limit),
    in minutes of the engine's clock (injectable, like every time the engine reads)."""
    limit = limits_for(tenant).webhook_calls_per_minute
    now = clock.now()
    if quotas.count_in_window(f"webhook-rate:{tenant.pk}", now=now) > limit:
        raise WebhookError(429, "rate_limited", f"over {limit} webhook calls a minute", retry_after=quotas.retry_after(now))


_secrets: dict[tuple[int, str], tuple[float, str | None]] = {}


def trigger_secret(tenant_id: int, name: str) -> str | None:
    """A trigger's secret, reused for TARGET_TTL like the target itself: the read and the
    decryption were a quarter of a signed delivery's cost. A put or rotation applies within it."""
    cached = _secrets.get((tenant_id, name))
    if cached and time.monotonic() - cached[0] < TARGET_TTL:
        return cached[1]
    try:
        value: str | None = secret_value(tenant_id=tenant_id, name=name)
    except NotFound:
        value = None
    if len(_secrets) > 10_000:
        _secrets.clear()
    _secrets[(tenant_id, name)] = (time.monotonic(), value)
    return value


def verify(target: Target, body: bytes, headers: dict[str, str]) -> str | None:
    """Check the trigger's auth scheme; returns the delivery id the scheme provides (if any)."""
    data = target.trigger.data
    scheme = data.get("auth", "standard_webhooks")
    if scheme == "none":
        return None
    secret = trigger_secret(target.tenant.pk, data.get("secret_name") or "WEBHOOK_SECRET")
    if secret is None:
        raise unauthorized("the trigger's secret is not set")
    try:
        if scheme == "bearer":
            given = headers.get("authorization", "")
            if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), secret.encode())):
                raise unauthorized()
            return None
        if scheme == "standard_webhooks":
            standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
            return headers.get("webhook-id")
        if scheme == "github":
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected.encode(), headers.get("x-hub-signature-256", "").encode()):
                raise unauthorized()
            return headers.get("x-github-delivery")
        if scheme == "stripe":
            parts = [p.split("=", 1) for p in headers.get("stripe-signature", "").split(",") if "=" in p]
            stamp = next((v for k, v in parts if k == "t"), "")
            if not stamp.isdigit() or abs(clock.now().timestamp() - int(stamp)) > STRIPE_TOLERANCE:
                raise unauthorized("the Stripe signature is missing or outside the 5-minute tolerance")
            expected = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
            if not any(k == "v1" and hmac.compare_digest(v.encode(), expected.encode()) for k, v in parts):
                raise unauthorized()
            return json.loads(body).get("id") if body else None
    except WebhookError:
        raise
    except Exception:  # the library's and the parsers' other errors (garbled headers, bad base64...)
        raise unauthorized() from None
    raise unauthorized(f"unknown auth scheme {scheme}")


@dataclass
class Delivery:
    """A request to a hook, however it arrived (the Django view or the raw ASGI route)."""

    method: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, Any]
    body: bytes
    content_length: str = ""


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    # Set when the trigger waits for a respond node: (instance, the published graph). The caller
    # waits (the Django view in its thread; the ASGI route without holding its database thread).
    wait_for: tuple | None = None


def delivery_from_request(request) -> Delivery:
    return Delivery(
        method=request.method, headers={k.lower(): v for k, v in request.headers.items()},
        query={k: request.GET.getlist(k) if len(request.GET.getlist(k)) > 1 else v for k, v in request.GET.items()},
        body=b"", content_length=request.META.get("CONTENT_LENGTH") or "0",
    )


def payload_of(delivery: Delivery) -> dict:
    ctype = delivery.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            parsed: Any = json_loads_checked(delivery.body.decode("utf-8"), "body") if delivery.body else None
        except (UnicodeDecodeError, ValueError):
            raise WebhookError(400, "invalid_body", "the body is not valid UTF-8 JSON") from None
        except InvalidInput as e:  # too deep, or a string no database can store
            raise WebhookError(422, "invalid_body", e.message) from None
    else:
        try:
            parsed = delivery.body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookError(415, "unsupported_body", "send JSON or UTF-8 text") from None
        if "\x00" in parsed:
            raise WebhookError(422, "invalid_body", "the body holds U+0000, which cannot be stored")
    return {"method": delivery.method,
            "headers": {k: v for k, v in delivery.headers.items() if k not in DROPPED_HEADERS},
            "query": delivery.query, "body": parsed}


def body_too_large(*, declared: str | None = None, received: int = 0) -> WebhookError | None:
    """The one webhook body limit (WEBHOOK_MAX_BODY_BYTES), for the Django view and the ASGI app:
    a declared Content-Length that is not a number or is over the limit is refused before any of
    the body is read, and so is a body that grows past it while it is read."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if (declared is not None and (not declared.isdigit() or int(declared) > limit)) or received > limit:
        return WebhookError(413, "too_large", f"the body is over {limit} bytes")
    return None


def read_body(request) -> bytes:
    refused = body_too_large(declared=request.META.get("CONTENT_LENGTH") or "0")
    if refused is None:
        body = request.body
        refused = body_too_large(received=len(body))
    if refused is not None:
        raise refused
    return body


def delivery_key(delivery_id: str) -> str:
    return "wh-" + hashlib.sha256(delivery_id.encode()).hexdigest()[:40]


def respond_check(instance: Instance, target_graph: dict) -> tuple[bool, dict | None]:
    """(stop waiting?, the respond node's answer if it has one). Whether the instance has finished is
    read before its outputs: a worker may commit the respond step and the end together between the
    two reads, and outputs read after a finish are final, so a finished instance's answer is never
    missed (the other order answered 202 for an instance that had responded)."""
    responders = [n.id for n in parse(target_graph).nodes.values() if n.type == "respond"]
    finished = instance_finished(instance_id=instance.pk)
    done = completed_output(instance=instance, names=responders)
    if done:
        return True, json.loads(done)
    return finished, None


async def respond_wait(answer: Answer, *, check: Callable[..., Awaitable[tuple[bool, dict | None]]] | None = None,
                       now: Callable[[], float] | None = None) -> Answer:
    """The answer of a `response: wait` delivery (answer.wait_for set): the respond node's answer,
    or `answer` (202) if the instance ends without one or WEBHOOK_WAIT_SECONDS pass first. Waits
    between short database checks (`check`: respond_check off the event loop), so the thread that
    delivers hooks keeps serving others meanwhile. The Django view runs it with async_to_sync.
    `now`: the monotonic clock the bound is measured on (the event loop's)."""
    now = now or asyncio.get_running_loop().time
    check = check or sync_to_async(respond_check)
    deadline = now() + settings.WEBHOOK_WAIT_SECONDS
    while now() < deadline:
        stop, response = await check(*answer.wait_for)
        if stop:
            return answer_of(response) if response is not None else answer
        await pause()
    return answer


async def pause() -> None:
    """Between two checks of a respond wait: short, as the answer is usually a few steps away."""
    await asyncio.sleep(0.05)


def answer_of(response: dict) -> "Answer":
    return Answer(int(response.get("status", 200)), response.get("body"), dict(response.get("headers") or {}))


@dataclass
class Admitted:
    """A delivery that passed its trigger's checks and is ready to create its instance."""
    target: Target
    key: str | None
    params: dict


def admit(delivery: Delivery, tenant_slug: str, workflow_slug: str, path: str = "") -> Admitted:
    """Every check of a delivery, no writes: route, auth, rate, body."""
    target = target_for(tenant_slug, workflow_slug, path)
    found = verify(target, delivery.body, delivery.headers) or delivery.headers.get("idempotency-key")
    check_rate(target.tenant)
    return Admitted(target, delivery_key(found) if found else None, payload_of(delivery))


def accepted(admitted: Admitted, instance: Instance) -> Answer:
    status_url = reverse("api:instances_get", kwargs={"instance_id": str(instance.pk)})
    answer = Answer(202, {"instance": str(instance.pk), "key": instance.public_key, "status_url": status_url}, {})
    if admitted.target.trigger.data.get("response") == "wait":
        answer.wait_for = (instance, admitted.target.workflow.published_version.graph)
    return answer


def deliver(delivery: Delivery, tenant_slug: str, workflow_slug: str, path: str = "") -> Answer:
    admitted = admit(delivery, tenant_slug, workflow_slug, path)
    return accepted(admitted, instance_create(tenant=admitted.target.tenant, workflow=admitted.target.workflow,
                                              id=admitted.key, params=admitted.params))


def create_admitted(admitted: list[Admitted]) -> list[Answer]:
    """The instances of deliveries admitted together, one batch insert per workflow (the insert
    statements, not the checks, are what a busy hook costs). Call inside a transaction. A batch
    refused as a whole (a quota) is retried one delivery at a time, so each gets its own answer;
    deliveries with the same id get the same instance, as retried deliveries do."""
    answers: list[Answer | None] = [None] * len(admitted)
    groups: dict[int, list[int]] = {}
    for n, a in enumerate(admitted):
        groups.setdefault(a.target.workflow.pk, []).append(n)
    for indexes in groups.values():
        target = admitted[indexes[0]].target
        firsts: dict[str | None, int] = {}
        for n in indexes:
            key = admitted[n].key
            firsts.setdefault(key if key is not None else f"#{n}", n)
        unique = list(firsts.values())
        for start in range(0, len(unique), 100):
            chunk = unique[start:start + 100]
            try:
                with transaction.atomic():
                    instances = instance_create_batch(tenant=target.tenant, workflow=target.workflow, items=[
                        {"id": admitted[n].key, "params": admitted[n].params} for n in chunk])
                made = dict(zip(chunk, instances))
            except Exception:  # noqa: BLE001 - whatever one delivery holds, the others still get in
                # A savepoint per delivery: a refusal (a quota) or a failure is that delivery's alone.
                made = {}
                for n in chunk:
                    try:
                        with transaction.atomic():
                            made[n] = instance_create(tenant=target.tenant, workflow=target.workflow,
                                                      id=admitted[n].key, params=admitted[n].params)
                    except DomainError as e:
                        answers[n] = error_answer(e)
                    except Exception:  # noqa: BLE001
                        log.exception("hooks: a delivery to %s failed", target.workflow.pk)
                        answers[n] = FAILED
            for n, instance in made.items():
                answers[n] = accepted(admitted[n], instance)
        for n in indexes:  # repeats of a delivery id answer as their first
            if answers[n] is None:
                answers[n] = answers[firsts[admitted[n].key]]
    return answers  # type: ignore[return-value]


def deliver_event(delivery: Delivery, tenant_slug: str, workflow_slug: str, instance_id: str, event_type: str) -> Answer:
    target = target_for(tenant_slug, workflow_slug)
    verify(target, delivery.body, delivery.headers)
    check_rate(target.tenant)
    instance = instance_of_workflow(tenant=target.tenant, workflow_id=target.workflow.pk, instance_id=instance_id)
    event = event_send(tenant=target.tenant, instance_id=instance.pk, type=event_type, payload=payload_of(delivery)["body"])
    return Answer(202, {"event": event.pk}, {})


FAILED = Answer(500, {"error": {"code": "internal", "message": "this delivery failed on our side; it has been logged"}}, {})


def error_answer(e: DomainError) -> Answer:
    headers = {"Retry-After": str(e.retry_after)} if getattr(e, "retry_after", None) else {}
    return Answer(e.status, {"error": {"code": e.code, "message": e.message}}, headers)


def route(path: str) -> tuple[str, tuple] | None:
    """/hooks/<tenant>/<workflow>[/<path>] or /hooks/<tenant>/<workflow>/events/<instance>/<type>."""
    parts = path.split("/")[2:]  # after "", "hooks"
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    if len(parts) == 5 and parts[2] == "events":
        return "event", (parts[0], parts[1], parts[3], parts[4])
    return "delivery", (parts[0], parts[1], "/".join(parts[2:]))
