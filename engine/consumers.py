"""Live progress over WebSockets: `/ws/instances/<id>/?after=<eventId>` and `/ws/workflows/<id>/`.

Invariant: the database is the only source of what is sent. A consumer reads progress rows after
its cursor, in event_id order, and sends them; it re-reads on a short timer and at once when the
channel layer says an instance has new rows. So reconnecting with `after` replays what was missed,
there is no gap or duplicate at the seam, and a lost channel-layer message (or the embedded mode's
in-memory layer, which does not cross processes) only costs up to one poll interval of latency.

Authentication: the browser's session (tenant from the session, or `?tenant=<slug>`), or
`Authorization: Bearer <api key>` for programs. Another tenant's id is refused exactly like an
unknown one (close code 4404). Origins are checked by AllowedHostsOriginValidator (config.asgi).
An output longer than the preview arrives cut, with `truncated`, `size` and `outputUrl` (the
instance's REST answer, whose step history holds the whole value).
"""
from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils.module_loading import import_string

from tenants.access import Principal, principal_for_token, principal_for_user
from tenants.errors import NotFound

from . import selectors
from .models import ProgressEvent

POLL_SECONDS = 0.25
BATCH = 500
CLOSE_NOT_FOUND = 4404
CLOSE_UNAUTHENTICATED = 4401


def group_for_instance(instance_id: Any) -> str:
    return f"instance.{instance_id}"


def group_for_workflow(workflow_id: Any) -> str:
    return f"workflow.{workflow_id}"


@database_sync_to_async
def principal_for_scope(scope) -> Principal | None:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return principal_for_token(auth[7:])
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        query = parse_qs(scope.get("query_string", b"").decode())

        class Request:  # principal_for_user reads the tenant choice from headers or the session
            pass

        request = Request()
        request.headers = {"X-Tenant": query.get("tenant", [""])[0]} if query.get("tenant") else {}
        request.session = scope.get("session") or {}
        return principal_for_user(request, user)
    return None


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Shared loop: wait for a poke or the poll interval, read rows after the cursor, send them."""

    async def connect(self):
        self.principal = await principal_for_scope(self.scope)
        if self.principal is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        try:
            await self.authorize()
        except NotFound:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.poke = asyncio.Event()
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        self.loop = asyncio.ensure_future(self.follow())

    async def disconnect(self, code):
        if hasattr(self, "loop"):
            self.loop.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def progress_new(self, message):
        """A worker committed rows (a hint: the rows themselves are read from the database)."""
        self.poke.set()

    async def follow(self):
        while True:
            for event in await self.read():
                await self.send_json(event)
            self.poke.clear()
            try:
                await asyncio.wait_for(self.poke.wait(), timeout=POLL_SECONDS)
            except asyncio.TimeoutError:
                pass


class InstanceProgressConsumer(ProgressConsumer):
    async def authorize(self):
        instance_id = self.scope["url_route"]["kwargs"]["instance_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.cursor = max(0, int(query.get("after", ["0"])[0]))
        except ValueError:
            self.cursor = 0
        self.instance = await database_sync_to_async(selectors.instance_get)(tenant=self.principal.tenant, instance_id=instance_id)
        self.group = group_for_instance(self.instance.pk)

    @database_sync_to_async
    def read(self) -> list[dict]:
        events = selectors.progress_after(tenant=self.principal.tenant, instance_id=self.instance.pk,
                                          after=self.cursor, limit=BATCH)
        if events:
            self.cursor = events[-1]["eventId"]
        for e in events:
            if e.get("truncated"):  # the preview was cut: where the whole value is (the step history)
                e["outputUrl"] = f"/api/v1/instances/{self.instance.pk}"
        return events


class WorkflowProgressConsumer(ProgressConsumer):
    """Every instance of a workflow: created, started, waiting, finished... (workflow_* events)."""

    async def authorize(self):
        # The builder owns workflows (and who may see one): settings name its tenant-scoped lookup.
        workflow_get = import_string(settings.ENGINE_WORKFLOW_GET)
        workflow_id = self.scope["url_route"]["kwargs"]["workflow_id"]
        self.workflow = await database_sync_to_async(workflow_get)(tenant=self.principal.tenant, workflow_id=workflow_id)
        self.group = group_for_workflow(self.workflow.pk)
        self.cursor = await database_sync_to_async(
            lambda: ProgressEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)()
        self.sent: dict[Any, int] = {}  # instance -> last event id sent (rows may commit out of pk order)

    @database_sync_to_async
    def read(self) -> list[dict]:
        # Re-read a window behind the cursor: PostgreSQL hands out ids before commit, so a row with
        # a lower id can appear after a higher one; per-instance event ids drop what was sent.
        rows = (ProgressEvent.objects.filter(tenant=self.principal.tenant, instance__workflow=self.workflow,
                                             pk__gt=self.cursor - 1000, type__startswith="workflow_")
                .order_by("pk").values("pk", "instance_id", "event_id", "type", "created_at", "data")[:BATCH])
        out = []
        for r in rows:
            if r["event_id"] <= self.sent.get(r["instance_id"], 0):
                continue
            self.sent[r["instance_id"]] = r["event_id"]
            self.cursor = max(self.cursor, r["pk"])
            out.append({"instance": str(r["instance_id"]), "eventId": r["event_id"], "type": r["type"],
                        "timestamp": r["created_at"].isoformat(), **(r["data"] or {})})
        if len(self.sent) > 10_000:
            self.sent = dict(list(self.sent.items())[-5_000:])
        return out
