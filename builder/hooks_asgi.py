"""The webhook route as a plain ASGI app, in front of Django under daphne.

Django's ASGI request path costs about 4 ms a request on this kind of machine, several times the
delivery's own work (verify, one insert transaction). This app reads the body with the size limit,
parses the route and headers itself, and runs `builder.webhooks.deliver` in a thread of its own
(one for SQLite, whose single writer only thrashes with more; a few for PostgreSQL), answering in
the same JSON shape as the Django view, which stays for every other server and for tests.
"""
from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from django.conf import settings
from django.db import close_old_connections, connection

from tenants.errors import DomainError

from . import webhooks

_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1 if connection.vendor == "sqlite" else 4, thread_name_prefix="hooks")
    return _pool


def run_delivery(kind: str, args: tuple, delivery: webhooks.Delivery) -> webhooks.Answer:
    close_old_connections()  # drop a connection the server closed or that broke
    try:
        if kind == "event":
            return webhooks.deliver_event(delivery, *args)
        return webhooks.deliver(delivery, *args)
    except DomainError as e:
        return webhooks.error_answer(e)


class HooksApp:
    def __init__(self, fallback):
        self.fallback = fallback  # Django, for everything this app does not answer

    async def __call__(self, scope, receive, send):
        found = webhooks.route(scope["path"]) if scope["type"] == "http" and scope["path"].startswith("/hooks/") else None
        if found is None or scope["method"] != "POST":
            return await self.fallback(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = settings.WEBHOOK_MAX_BODY_BYTES
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > limit:
            return await self.answer(send, webhooks.Answer(413, {"error": {"code": "too_large", "message": f"the body is over {limit} bytes"}}, {}))
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                return await self.answer(send, webhooks.Answer(413, {"error": {"code": "too_large", "message": f"the body is over {limit} bytes"}}, {}))
            if not message.get("more_body"):
                break
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        delivery = webhooks.Delivery(method="POST", headers=headers, query=query, body=bytes(body))
        kind, args = found
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(pool(), run_delivery, kind, args, delivery)
        if answer.wait_for:
            # Wait for the respond node here, between short database checks, so the delivery
            # thread keeps serving other hooks meanwhile.
            deadline = loop.time() + settings.WEBHOOK_WAIT_SECONDS
            while loop.time() < deadline:
                stop, response = await loop.run_in_executor(pool(), webhooks.respond_check, *answer.wait_for)
                if stop:
                    answer = webhooks.answer_of(response) if response is not None else answer
                    break
                await asyncio.sleep(0.05)
        await self.answer(send, answer)

    @staticmethod
    async def answer(send, answer: webhooks.Answer) -> None:
        payload = json.dumps(answer.body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
