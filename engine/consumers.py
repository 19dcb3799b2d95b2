"""Live progress over WebSockets: `/ws/instances/<id>/?after=<eventId>` and
`/ws/workflows/<id>/?after=<cursor>`.

Invariants:
- The database is the only source of durable events sent. A consumer reads the rows after its
  cursor, in order, sends them, and reads again at once while a read came back full (a replay runs
  as fast as the database reads), then when a notification says there are new rows (engine.live:
  Redis in distributed mode, a datagram from the engine workers in embedded mode) or, should one
  be lost, after POLL_SECONDS. So reconnecting with `after` replays exactly what was missed.
- The instance stream's cursor is the per-instance event id, which increases in commit order.
- The workflow stream's cursor is (txid, row id, event id): on PostgreSQL an id is taken before its
  row commits, so ids alone can commit out of order; reading only rows of transactions older than
  the oldest one still running (`pg_snapshot_xmin`) makes the read final: no row can later appear
  before the cursor, and one instance's rows are in commit order (engine.progress.TXID_SQL). Every
  event sent carries its cursor, so `?after=<cursor>` resumes exactly after it. SQLite has one
  writer: ids are in commit order and txid is 0. Rows older than the compaction window leave the
  stream (engine.compaction); a cursor before the compacted prefix gets `resync` (never a silent gap).
- Ephemeral events (an attempt began or ended in the sandbox, before its batch commits) come only
  in notifications: they are forwarded as they arrive, marked `ephemeral`, without an event id.

Refusals are accepted and then closed, so that every client (a browser included) sees the code:
4401 unauthenticated (no credentials, a bad API key), 4403 forbidden (a browser session from an
origin not in ALLOWED_HOSTS, or a user without access to the tenant), 4404 unknown or another
tenant's (the same answer). Authentication: the browser's session (tenant from the session, or
`?tenant=<slug>`), whose Origin must match ALLOWED_HOSTS (cross-site WebSocket hijacking), or
`Authorization: Bearer <api key>`, which a browser page cannot set, so its Origin is not checked.
An output longer than the preview arrives cut, with `truncated`, `size` and `outputUrl`.
"""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils.module_loading import import_string

from tenants.access import Principal, principal_for_token, principal_for_user
from tenants.errors import NotFound

from . import compaction, live, progress, selectors
from .live import group_for_instance, group_for_workflow  # noqa: F401 (kept importable from here)
from .models import ProgressEvent

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # only for a lost notification: new rows are pushed
BATCH = 500
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404



class Refused(Exception):
    def __init__(self, code: int):
        self.code = code


def headers_of(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


@database_sync_to_async
def principal_for_scope(scope) -> Principal:
    """Who is asking, or Refused with the close code that says why not."""
    headers = headers_of(scope)
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = principal_for_token(auth[7:].strip())
        if principal is None:
            raise Refused(CLOSE_UNAUTHENTICATED)
        return principal
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        raise Refused(CLOSE_UNAUTHENTICATED)
    # A cookie rides along with any page's request: only pages of our own origins may use it.
    origin = headers.get("origin")
    if not origin or not AllowedHostsOriginValidator(None).valid_origin(urlparse(origin)):
        raise Refused(CLOSE_FORBIDDEN)
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace").replace("\x00", ""))

    class Request:  # principal_for_user reads the tenant choice from headers or the session
        pass

    request = Request()
    request.headers = {"X-Tenant": query.get("tenant", [""])[0]} if query.get("tenant") else {}
    request.session = scope.get("session") or {}
    principal = principal_for_user(request, user)
    if principal is None:  # signed in, but not a member of that tenant
        raise Refused(CLOSE_FORBIDDEN)
    return principal


class ProgressConsumer(AsyncJsonWebsocketConsumer):
    """Shared loop: read rows after the cursor and send them; wait for a notification (or the
    poll interval) only when the last read was not full."""

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        # The stream is one-way: whatever a client sends (garbage, a JSON bomb) is ignored, never
        # parsed (AsyncJsonWebsocketConsumer's default would raise on invalid JSON and drop the socket).
        return

    async def connect(self):
        try:
            self.principal = await principal_for_scope(self.scope)
            await self.authorize()  # the cursor is set before the client sees the socket open
        except (Refused, NotFound) as refused:
            # Accepted first: a close before accepting is an HTTP 403 at the handshake, no code.
            await self.accept()
            await self.close(code=refused.code if isinstance(refused, Refused) else CLOSE_NOT_FOUND)
            return
        self.poke = asyncio.Event()
        self.hub = await live.hub(self.channel_layer)
        await self.hub.subscribe(self.group, self)
        await self.accept()
        self.loop = asyncio.ensure_future(self.follow())

    async def disconnect(self, code):
        if hasattr(self, "loop"):
            self.loop.cancel()
        if hasattr(self, "hub"):
            await self.hub.unsubscribe(self.group, self)

    async def progress_new(self, message):
        """Rows were committed (a hint: they are read from the database), or ephemeral events
        (called by this process's live.Hub)."""
        for event in message.get("ephemeral") or ():
            await self.send_json({**event, "ephemeral": True})
        self.poke.set()

    async def follow(self):
        try:
            await self.stream()
        except asyncio.CancelledError:
            raise
        except Exception:  # the database went away...: close, and the client resumes with its cursor
            log.warning("live: stream of %s failed", self.group, exc_info=True)
            await self.close(code=1011)

    async def stream(self):
        while True:
            self.poke.clear()  # before the read: a notification during it means read again
            events, full = await self.read()
            for event in events:
                await self.send(text_data=event if isinstance(event, str) else json.dumps(event))
            if full:
                continue
            try:
                await asyncio.wait_for(self.poke.wait(), timeout=POLL_SECONDS)
            except asyncio.TimeoutError:
                pass


class InstanceProgressConsumer(ProgressConsumer):
    async def authorize(self):
        instance_id = self.scope["url_route"]["kwargs"]["instance_id"]
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        try:
            self.cursor = min(max(0, int(query.get("after", ["0"])[0])), 2**62)  # a bigint, whatever is sent
        except ValueError:
            self.cursor = 0
        self.instance = await database_sync_to_async(selectors.instance_get)(tenant=self.principal.tenant, instance_id=instance_id)
        self.group = group_for_instance(self.instance.pk)

    async def read(self) -> tuple[list[str], bool]:
        # Subscribers of one instance in this process wake together on a notification, at the
        # same cursor: one of them reads, the others share its answer (100 viewers, one query).
        key = (self.instance.pk, self.cursor)
        shared = _reads.get(key)
        if shared is None:
            shared = _reads[key] = asyncio.ensure_future(database_sync_to_async(progress_texts)(self.instance.pk, self.cursor))
            shared.add_done_callback(lambda _: _reads.pop(key, None))
        ids, texts, full = await asyncio.shield(shared)
        if ids:
            self.cursor = ids[-1]
        return texts, full


_reads: dict[tuple[Any, int], asyncio.Future] = {}


def progress_texts(instance_pk: Any, after: int) -> tuple[list[int], list[str], bool]:
    """An instance's events after `after`, as the JSON texts sent, and whether the read was full.
    The caller has checked the instance is the principal's."""
    rows = (ProgressEvent.objects.filter(instance_id=instance_pk, event_id__gt=after).order_by("event_id")
            .values("event_id", "count", "created_at", "events")[:BATCH])
    events = progress.events_of(rows, after=after)
    for event in events:
        if event.get("truncated"):  # the preview was cut: where the whole value is (the step history)
            event["outputUrl"] = f"/api/v1/instances/{instance_pk}"
    return [e["eventId"] for e in events], [json.dumps(e) for e in events], len(rows) == BATCH


HORIZON_SQL = progress.FINAL_SQL
FIELDS = ("pk", "txid", "instance_id", "event_id", "count", "created_at", "events")


def parse_cursor(text: str) -> tuple[int, int, int] | None:
    """A workflow stream cursor, `<txid>.<row>.<eventId>` as each event carries it, or `0` (the
    whole history); None if it is neither."""
    if text == "0":
        return (0, 0, 0)
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 18 for p in parts):
        return None
    txid, pk, event_id = map(int, parts)
    return txid, pk, event_id


class WorkflowProgressConsumer(ProgressConsumer):
    """Every instance of a workflow: queued, started, waiting, finished... (workflow_* events),
    from the moment of connecting (the caller reads the list of instances when the socket opens),
    or after `?after=<cursor>`: each event carries its `cursor`, and reconnecting with the last one
    received resumes exactly after it (`after=0`: the whole history the stream still holds).
    The stream holds the last ENGINE_PROGRESS_COMPACT_AFTER_SECONDS (engine.compaction): a cursor
    older than that gets `{"type": "resync", "cursor"}` first (read the list again; the events go
    on from there). Each instance's own stream and history keep every event."""

    async def authorize(self):
        # The builder owns workflows (and who may see one): settings name its tenant-scoped lookup.
        workflow_get = import_string(settings.ENGINE_WORKFLOW_GET)
        workflow_id = self.scope["url_route"]["kwargs"]["workflow_id"]
        self.workflow = await database_sync_to_async(workflow_get)(tenant=self.principal.tenant, workflow_id=workflow_id)
        self.group = group_for_workflow(self.workflow.pk)
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        after = query.get("after", [""])[0]
        self.cursor = parse_cursor(after) if after else None
        if self.cursor is None:  # no cursor, or not one of ours: from now
            self.cursor = await database_sync_to_async(self.start)()

    def rows(self):
        qs = ProgressEvent.objects.filter(instance__workflow=self.workflow, lifecycle=True)
        horizon = HORIZON_SQL.get(connection.vendor)
        return qs.extra(where=[horizon]) if horizon else qs

    def start(self) -> tuple[int, int, int]:
        """The cursor at connection: after every row committed so far (every row on SQLite; on
        PostgreSQL, at the horizon: rows of transactions still running come after)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                return (cursor.fetchone()[0] - 1, 2**62, 0)
        last = ProgressEvent.objects.order_by("-pk").values_list("txid", "pk", "event_id").first()
        return last or (0, 0, 0)

    @database_sync_to_async
    def read(self) -> tuple[list[str], bool]:
        # Rows in (txid, id) order: one instance's rows are in commit order (engine.progress.TXID_SQL).
        # The row of the cursor is read again for its events after the cursor's event id.
        txid, pk, event_id = self.cursor
        after = Q(txid__gt=txid) | Q(txid=txid, pk__gte=pk)
        rows = list(self.rows().filter(after).order_by("txid", "pk").values(*FIELDS)[:BATCH])
        full = len(rows) == BATCH
        texts = []
        # Read after the rows: a compaction committed before them shows here. Rows after the cursor
        # may have left the stream (engine.compaction): say so; the caller re-reads the list.
        compacted = compaction.horizon()
        if self.cursor < compacted:
            rows = [row for row in rows if (row["txid"], row["pk"]) > compacted[:2]]
            self.cursor = compacted
            texts.append(json.dumps({"type": "resync", "cursor": "%d.%d.%d" % self.cursor}))
            txid, pk, event_id = self.cursor
        for row in rows:
            mine = (row["txid"], row["pk"]) == (txid, pk)
            for event in progress.unpack(event_id=row["event_id"], count=row["count"], created_at=row["created_at"],
                                         events=row["events"]):
                if not progress.is_lifecycle(event["type"]) or (mine and event["eventId"] <= event_id):
                    continue
                self.cursor = (row["txid"], row["pk"], event["eventId"])
                texts.append(json.dumps({"instance": str(row["instance_id"]), "cursor": "%d.%d.%d" % self.cursor, **event}))
        return texts, full
