"""The webhook route as a plain ASGI app, in front of Django under daphne.

Django's ASGI request path costs about 4 ms a request on this kind of machine, several times the
delivery's own work (verify, one insert transaction). This app reads the body with the size limit,
parses the route and headers itself, and hands the delivery to one committing thread
that writes the deliveries arriving together in one transaction (GroupCommit), answering in the
same JSON shape as the Django view, which stays for every other server and for tests.
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from django.db import connection, transaction

from engine import dispatch
from tenants.errors import DomainError

from . import webhooks

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """Threads for the waits of `response: wait` triggers (short database checks)."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=1 if connection.vendor == "sqlite" else 4, thread_name_prefix="hooks")
    return _pool


class GroupCommit:
    """Deliveries that arrive together are written in one transaction, their instances in one
    insert per workflow (`webhooks.create_admitted`): the commit and the statements, not the
    checks, are what a delivery costs most. A refused delivery never undoes another (refusals
    happen before writing, or in a savepoint). Every delivery is answered only after its commit."""

    MAX_BATCH = 100

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        threading.Thread(target=self.run, daemon=True, name="hooks-commit").start()

    def submit(self, kind, args, delivery) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put((kind, args, delivery, future, loop))
        return future

    def run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            answers = []
            with dispatch.held_notifications():  # task messages go after the answers
                try:
                    if connection.connection is not None and not connection.is_usable():
                        connection.close()  # the server closed it or it broke: reconnect (kept open otherwise)
                    with transaction.atomic():
                        answers = self.write(batch)
                except Exception:
                    log.exception("hooks: a batch of %d deliveries failed", len(batch))
                    answers = [webhooks.Answer(503, {"error": {"code": "unavailable", "message": "try again"}}, {"Retry-After": "1"})
                               for _ in batch]
                for (_, _, _, future, loop), answer in zip(batch, answers):
                    loop.call_soon_threadsafe(_settle, future, answer)

    @staticmethod
    def write(batch) -> list[webhooks.Answer]:
        """Check every delivery of the batch, then create the admitted ones' instances together.
        A refusal raises before writing, so it never undoes another delivery."""
        answers: list[webhooks.Answer | None] = [None] * len(batch)
        admitted: list[tuple[int, webhooks.Admitted]] = []
        for n, (kind, args, delivery, _, _) in enumerate(batch):
            try:
                if kind == "event":
                    with transaction.atomic():  # its own savepoint: a refusal keeps none of its writes
                        answers[n] = webhooks.deliver_event(delivery, *args)
                else:
                    admitted.append((n, webhooks.admit(delivery, *args)))
            except DomainError as e:
                answers[n] = webhooks.error_answer(e)
            except Exception:  # noqa: BLE001 - one delivery's failure is its own, never the batch's
                log.exception("hooks: a delivery failed its checks")
                answers[n] = webhooks.FAILED
        for (n, _), answer in zip(admitted, webhooks.create_admitted([a for _, a in admitted])):
            answers[n] = answer
        return answers  # type: ignore[return-value]


def _settle(future: asyncio.Future, answer) -> None:
    if not future.done():
        future.set_result(answer)


_committer: GroupCommit | None = None


def committer() -> GroupCommit:
    global _committer
    if _committer is None:
        _committer = GroupCommit()
    return _committer


class HooksApp:
    def __init__(self, fallback):
        self.fallback = fallback  # Django, for everything this app does not answer

    async def __call__(self, scope, receive, send):
        found = webhooks.route(scope["path"]) if scope["type"] == "http" and scope["path"].startswith("/hooks/") else None
        if found is None or scope["method"] != "POST":
            return await self.fallback(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refused = webhooks.body_too_large(declared=headers.get("content-length", "0"))
        body = bytearray()
        while refused is None:
            message = await receive()
            body += message.get("body", b"")
            refused = webhooks.body_too_large(received=len(body))
            if not message.get("more_body"):
                break
        if refused is not None:
            return await self.answer(send, webhooks.error_answer(refused))
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        delivery = webhooks.Delivery(method="POST", headers=headers, query=query, body=bytes(body))
        kind, args = found
        loop = asyncio.get_running_loop()
        answer = await committer().submit(kind, args, delivery)
        if answer.wait_for:
            answer = await webhooks.respond_wait(
                answer, check=lambda *wait_for: loop.run_in_executor(pool(), webhooks.respond_check, *wait_for))
        await self.answer(send, answer)

    @staticmethod
    async def answer(send, answer: webhooks.Answer) -> None:
        payload = json.dumps(answer.body).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        headers += [(k.encode("latin-1"), str(v).encode("latin-1")) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
